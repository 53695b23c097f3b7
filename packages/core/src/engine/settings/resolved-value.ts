/**
 * A service key resolved at run time and read by the same rule the plan
 * loader applies to literal values, so that `ssh_port: env.PORT` and
 * `ssh_port: 2222` are held to one standard.
 */
import { TemplateError } from '../../errors.js';
import { type RuledKey, type RuledValue, VALUE_RULES } from '../../plan/values.js';
import type { Attributes } from '../attributes.js';

/**
 * The resolved value of `key` for service `name`, read by its rule;
 * undefined when the key is not given.
 * @throws TemplateError when it cannot be resolved or does not have the expected form.
 */
export function ruledValue<K extends RuledKey>(
  attrs: Attributes,
  name: string,
  key: K,
): RuledValue<K> | undefined {
  const value = attrs.key(name, key);
  if (value === undefined) return undefined;
  const rule = VALUE_RULES[key];
  const read = rule.read(value) as RuledValue<K> | undefined;
  if (read === undefined)
    throw new TemplateError(`${key} is "${value}"; expected ${rule.expected}`);
  return read;
}
