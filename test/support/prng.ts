/**
 * mulberry32, a small seeded pseudo-random generator: fault injection in the
 * fake clouds and the moments the kill-and-resume trials strike are drawn
 * from it, so a failing trial can be run again from its printed seed.
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
