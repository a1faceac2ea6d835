-- The same two parse functions as 009, each giving the same value for every text, faster (ingest_parse calls them
-- for every line; measured in BENCHMARKS.md, "The parse made cheaper, memory handed back").

-- Text without a UTF-8 continuation byte (0x80 to 0xBF), that is byte length = code points, is ASCII, which NFC
-- leaves as it is, or invalid UTF-8, which routewatch_nfc leaves as it is too: neither goes through the normalizer.
CREATE OR REPLACE FUNCTION routewatch_nfc AS (text) -> if(
    length(coalesce(text, '')) = lengthUTF8(coalesce(text, '')), text,
    if(isValidUTF8(coalesce(text, '')), normalizeUTF8NFC(if(isValidUTF8(coalesce(text, '')), text, '')), text)
);

-- 1 to 64 letters, marks, digits, spaces or _ . : - (metrics.dimensions.segment_key_ok): the length is counted
-- apart, because a counted repeat of Unicode classes ({1,64}) cost the regex engine about 4 microseconds a key.
CREATE OR REPLACE FUNCTION routewatch_segment_key_ok AS (key) -> match(key, '^[\\p{L}\\p{M}\\p{N}_.: -]+$')
    AND lengthUTF8(key) <= 64;
