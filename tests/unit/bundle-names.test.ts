import { validateHeaderValue } from 'node:http';
import { bundleRootName, contentDisposition, defaultTarName } from '../../src/bundle';

describe('contentDisposition', () => {
  test('a plain name goes out as the reference sends it', () => {
    expect(contentDisposition('38.tar')).toBe('attachment; filename=38.tar');
    expect(contentDisposition('my_cart-1.tar')).toBe('attachment; filename=my_cart-1.tar');
  });

  test('a name with spaces is quoted, no filename* needed', () => {
    expect(contentDisposition('my cart.tar')).toBe('attachment; filename="my cart.tar"');
  });

  test('non-ASCII gets an ASCII fallback and the exact name in filename*', () => {
    expect(contentDisposition('données été.tar')).toBe(
      `attachment; filename="donn_es _t_.tar"; filename*=UTF-8''donn%C3%A9es%20%C3%A9t%C3%A9.tar`,
    );
    expect(contentDisposition('日本🙂.tar')).toBe(
      `attachment; filename="___.tar"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%F0%9F%99%82.tar`,
    );
  });

  test('quotes, backslashes, percent signs and control characters never reach the fallback', () => {
    const value = contentDisposition('a"b\\c%41\r\nd.tar');
    expect(value).toBe(`attachment; filename="a_b_c_41__d.tar"; filename*=UTF-8''a%22b%5Cc%2541%0D%0Ad.tar`);
  });

  test("characters outside RFC 5987 attr-char are percent-encoded in filename* ('()* too)", () => {
    expect(contentDisposition("é it's (1)*.tar")).toContain(`filename*=UTF-8''%C3%A9%20it%27s%20%281%29%2A.tar`);
  });

  test.each(['données.tar', '日本.tar', 'a"b.tar', 'x\u0000y', '\u{1F600}'])('%j is always a legal Node header value', (name) => {
    const value = contentDisposition(name);
    expect(value).toMatch(/^[\x20-\x7e]+$/);
    expect(() => validateHeaderValue('Content-Disposition', value)).not.toThrow();
  });
});

describe('defaultTarName', () => {
  test('data_YYYY_MM_DD_HH_MM_SS.tar in local time, zero-padded', () => {
    expect(defaultTarName(new Date(2024, 0, 2, 3, 4, 5))).toBe('data_2024_01_02_03_04_05.tar');
    expect(defaultTarName(new Date(1999, 11, 31, 23, 59, 59))).toBe('data_1999_12_31_23_59_59.tar');
  });
});

describe('bundleRootName', () => {
  test.each([
    ['38', '38'],
    ['38.tar', '38'],
    ['my_cart.tar', 'my_cart'],
    ['bundle.zip', 'bundle'],
    ['a.tar.tar', 'a.tar'],
    ['données.tar', 'données'],
    ['../../etc.tar', '.._.._etc'],
    ['a\\b.tar', 'a_b'],
    ['.tar', 'data'],
    ['...tar', 'data'],
    ['..', 'data'],
  ])('%j -> %j', (filename, root) => {
    expect(bundleRootName(filename)).toBe(root);
  });
});
