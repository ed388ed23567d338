import { expect, test } from 'vitest';
import { highlight } from './highlight';

/** shown writes marked pieces as [word], so a table row reads at a glance. */
const shown = (text: string, words?: string[]) => highlight(text, words).map((p) => (p.mark ? `[${p.text}]` : p.text)).join('');

test.each([
  ['no words', 'cats on skis', undefined, 'cats on skis'],
  ['empty list', 'cats on skis', [], 'cats on skis'],
  ['one word', 'cats on skis', ['skis'], 'cats on [skis]'],
  ['every occurrence', 'ski, skis and ski', ['ski'], '[ski], skis and [ski]'],
  ['case-insensitive', 'Cats ON Skis', ['cats', 'on'], '[Cats] [ON] Skis'],
  ['whole tokens only', 'video-12 video-1', ['1'], 'video-12 video-[1]'],
  ['tokens split at punctuation', '{"title":"cats_on-skis"}', ['on', 'title'], '{"[title]":"cats_[on]-skis"}'],
  ['digits are tokens', 'v1 has 42 likes', ['42'], 'v1 has [42] likes'],
  ['letters beyond ASCII', 'Crème brûlée', ['brûlée'], 'Crème [brûlée]'],
  ['a word of several tokens marks each', 'evt-m3k9x2-4f', ['evt-m3k9x2-4f'], '[evt]-[m3k9x2]-[4f]'],
  ['an uppercase word still matches', 'Zebracorn', ['ZEBRACORN'], '[Zebracorn]'],
  ['nothing matches', 'cats on skis', ['dogs'], 'cats on skis'],
  ['empty text', '', ['x'], ''],
])('%s', (_, text, words, want) => {
  expect(shown(text, words)).toBe(want);
});

test('pieces keep the text whole and merge what is not marked', () => {
  const pieces = highlight('a b c d', ['c']);
  expect(pieces).toEqual([
    { text: 'a b ', mark: false },
    { text: 'c', mark: true },
    { text: ' d', mark: false },
  ]);
  expect(pieces.map((p) => p.text).join('')).toBe('a b c d');
});
