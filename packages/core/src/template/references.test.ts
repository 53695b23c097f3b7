import { describe, expect, it } from 'vitest';
import { TemplateError } from '../errors.js';
import { findReferences, substituteReferences } from './references.js';

describe('references', () => {
  it('parses service, self and global references', () => {
    expect(findReferences('${db.hostname}:${.port}/${global.site-name}')).toEqual([
      { scope: 'service', service: 'db', name: 'hostname', text: '${db.hostname}' },
      { scope: 'self', name: 'port', text: '${.port}' },
      { scope: 'global', name: 'site-name', text: '${global.site-name}' },
    ]);
  });

  it('leaves other dollar signs alone', () => {
    expect(findReferences('$HOME ${HOME} $$ ${x}')).toEqual([]);
  });

  it('substitutes and reports a missing value', () => {
    expect(substituteReferences('a ${web-0.port} b', (r) => `<${r.service}:${r.name}>`)).toBe(
      'a <web-0:port> b',
    );
    expect(() => substituteReferences('${db.nope}', () => undefined)).toThrow(TemplateError);
  });
});
