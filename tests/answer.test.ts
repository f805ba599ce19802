import { describe, expect, it } from 'vitest';
import { contentLength } from '../src/answer.js';

describe('contentLength', () => {
  it.each([
    ['', '0'],
    ['Forbidden\n', '10'],
    ['é', '2'],
    ['👋', '4'],
  ])('counts %j as %s bytes', (body, length) => {
    expect(contentLength(body)).toBe(length);
  });
});
