/**
 * The integer codes of the methods in compact CBOR (shared/JSTP.md). Apart from the
 * codec so that what only needs the codes (the signed content of a dispatch) does not
 * load the codec.
 */
export const METHOD_CODES: Readonly<Record<string, number>> = {
  GET: 1, POST: 2, PUT: 3, DELETE: 4, PATCH: 6, BIND: 8, RELEASE: 9, ANSWER: 10,
};
