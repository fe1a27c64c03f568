// PII classification over text: what is found, what is not (numbers that only look like personal
// data), counts and sample spans.
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { isIban, isPaymentCardNumber, luhnValid, scanPii, type PiiKind } from '../src/ingest/transform/pii.js';

/** What the scan finds in `text`, as `kind:matched text`. */
function found(text: string): string[] {
  return scanPii(text, { samplesPerKind: 100 }).samples.map((span) => `${span.kind}:${text.slice(span.start, span.end)}`);
}

/** One subtest per case, so that every failing case is reported. */
async function assertFinds(t: TestContext, kind: PiiKind, cases: [text: string, expected: string][]): Promise<void> {
  for (const [text, expected] of cases) await t.test(text, () => assert.deepEqual(found(text), [`${kind}:${expected}`], text));
}

async function assertFindsNothing(t: TestContext, cases: string[]): Promise<void> {
  for (const text of cases) await t.test(text, () => assert.deepEqual(found(text), [], text));
}

describe('e-mail addresses', () => {
  test('found with sub-domains, tags, and non-ASCII letters', async (t) => {
    await assertFinds(t, 'email', [
      ['write to john.doe+news@example.co.uk.', 'john.doe+news@example.co.uk'],
      ['<jane_o-neil@mail.example.org>', 'jane_o-neil@mail.example.org'],
      ['jürgen@müller.de schrieb', 'jürgen@müller.de'],
    ]);
  });

  test('not found without a domain and top-level domain, or with a broken local part', async (t) => {
    await assertFindsNothing(t, ['user@localhost', 'a..b@example.org', '@example.com', 'x@y.c', 'name@-bad.org', 'just some text', 'price 5 @ 10.00']);
  });
});

describe('phone numbers', () => {
  test('international (E.164, with or without grouping) and national layouts', async (t) => {
    await assertFinds(t, 'phone', [
      ['call +4915112345678 now', '+4915112345678'],
      ['call +49 151 12345678 now', '+49 151 12345678'],
      ['+1 (415) 555-2671', '+1 (415) 555-2671'],
      ['+44 (0)20 7946 0958', '+44 (0)20 7946 0958'],
      ['0049 30 1234567', '0049 30 1234567'],
      ['office (415) 555-2671', '(415) 555-2671'],
      ['office 415-555-2671', '415-555-2671'],
      ['office 415.555.2671', '415.555.2671'],
      ['Tel. 030 1234567', '030 1234567'],
      ['mobil 0151/12345678', '0151/12345678'],
      ['portable 06 12 34 56 78', '06 12 34 56 78'],
      ['London 020 7946 0958', '020 7946 0958'],
      ['Tel. 030 1234567 2024 eingetragen', '030 1234567'],
    ]);
  });

  test('not found in dates, times, prices, versions, postcodes, or plain numbers', async (t) => {
    await assertFindsNothing(t, [
      'on 2024-03-10 at 12:30:45',
      'am 01.02.2024 10:30',
      'total 1.234.567,89 EUR',
      'version 10.0.19041.1',
      '10115 Berlin',
      'order 123456789012',
      'ISBN 978-3-16-148410-0',
      '+49 123', // too short for E.164
      '+123456789012345678', // 18 digits: longer than E.164 allows
      '415-055-2671', // a North American exchange never starts with 0
    ]);
  });
});

describe('payment card numbers', () => {
  test('found as one run or grouped, for the major networks, when the Luhn check holds', async (t) => {
    await assertFinds(t, 'payment_card', [
      ['card 4111 1111 1111 1111 exp 12/29', '4111 1111 1111 1111'],
      ['4111-1111-1111-1111', '4111-1111-1111-1111'],
      ['paid with 5555555555554444.', '5555555555554444'],
      ['amex 3782 822463 10005', '3782 822463 10005'],
      ['discover 6011 1111 1111 1117', '6011 1111 1111 1117'],
      ['4111 1111 1111 1111 123', '4111 1111 1111 1111'],
    ]);
  });

  test('a 16-digit number failing Luhn is not a card', async (t) => {
    assert.equal(luhnValid('4111111111111112'), false);
    await assertFindsNothing(t, ['card 4111 1111 1111 1112', '5555555555554445']);
  });

  test('Luhn-valid numbers without a network prefix or length, or with mixed separators, are not cards', async (t) => {
    assert.equal(luhnValid('0000000000000000'), true);
    assert.equal(isPaymentCardNumber('0000000000000000'), false);
    assert.equal(luhnValid('1234567812345670'), true);
    await assertFindsNothing(t, ['0000 0000 0000 0000', '1234 5678 1234 5670', '4111 1111-1111 1111', '41111111111111111111111']);
  });

  test('Luhn check digits', () => {
    assert.equal(luhnValid('79927398713'), true);
    assert.equal(luhnValid('79927398710'), false);
    assert.equal(isPaymentCardNumber('378282246310005'), true);
    assert.equal(isPaymentCardNumber('378282246310006'), false);
  });
});

describe('IBANs', () => {
  test('found grouped in fours or as one run, mod 97 and country length checked', async (t) => {
    await assertFinds(t, 'iban', [
      ['IBAN DE89 3704 0044 0532 0130 00 thanks', 'DE89 3704 0044 0532 0130 00'],
      ['GB82WEST12345698765432', 'GB82WEST12345698765432'],
      ['NL91ABNA0417164300.', 'NL91ABNA0417164300'],
      ['FR14 2004 1010 0505 0001 3M02 606', 'FR14 2004 1010 0505 0001 3M02 606'],
    ]);
    assert.deepEqual(found('two: DE89370400440532013000 GB82WEST12345698765432'), [
      'iban:DE89370400440532013000',
      'iban:GB82WEST12345698765432',
    ]);
  });

  test('a wrong check digit, a wrong length or an unknown country is not an IBAN', async (t) => {
    assert.equal(isIban('DE89370400440532013000'), true);
    assert.equal(isIban('DE89370400440532013001'), false);
    assert.equal(isIban('DE8937040044053201300'), false);
    assert.equal(isIban('XX89370400440532013000'), false);
    for (const text of ['DE89 3704 0044 0532 0130 01', 'DE8937040044053201300', 'QQ82WEST12345698765432', 'DE89370400440532013000X']) {
      await t.test(text, () => assert.equal(scanPii(text).counts.iban, 0, text));
    }
  });
});

describe('the report', () => {
  test('counts every find per kind, keeps a bounded number of sample spans, and leaves the text alone', () => {
    const text = [
      'From: alice@example.org, bob@example.org, carol@example.org',
      'Tel +49 30 1234567',
      'Card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00',
      'On 2024-03-10 order 123456789012.',
    ].join('\n');
    const before = text.slice();
    const report = scanPii(text, { samplesPerKind: 2 });
    assert.deepEqual(report.counts, { email: 3, phone: 1, payment_card: 1, iban: 1 });
    assert.deepEqual(
      report.samples.map((s) => `${s.kind}:${text.slice(s.start, s.end)}`),
      ['email:alice@example.org', 'email:bob@example.org', 'phone:+49 30 1234567', 'payment_card:4111 1111 1111 1111', 'iban:DE89 3704 0044 0532 0130 00'],
    );
    assert.equal(text, before);
    assert.ok(!JSON.stringify(report).includes('alice'), 'the report holds positions, not the text found');
  });

  test('the digits of a card or an IBAN are not counted again as a phone number', () => {
    // Alone, the tail of this IBAN reads as an international number (00 44 ...).
    assert.deepEqual(scanPii('0044 0532 0130 00').counts.phone, 1);
    assert.deepEqual(scanPii('IBAN DE89 3704 0044 0532 0130 00; card 4111111111111111').counts, { email: 0, phone: 0, payment_card: 1, iban: 1 });
  });

  test('empty text: zero of every kind', () => {
    assert.deepEqual(scanPii(''), { counts: { email: 0, phone: 0, payment_card: 0, iban: 0 }, samples: [] });
  });
});
