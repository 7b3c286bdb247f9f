/*
 * The text rule (see utf8.h).  Well-formed means Unicode's table 3-7: the
 * second byte of a sequence is what rules out overlong forms (E0, F0),
 * surrogates (ED) and code points past U+10FFFF (F4), so the checks below
 * only ever look at the lead byte and the range of the byte after it.
 */
#include "utf8.h"

#include <stdint.h>
#include <string.h>

static const char HEX[] = "0123456789abcdef";

/* Bytes in a sequence led by C (2..4), or 0 when C cannot lead one. */
static unsigned lead_len(unsigned char c) {
  if (c >= 0xc2 && c <= 0xdf)
    return 2;
  if (c >= 0xe0 && c <= 0xef)
    return 3;
  if (c >= 0xf0 && c <= 0xf4)
    return 4;
  return 0;
}

/* True when C may follow LEAD as the byte at position POS (1..3). */
static bool cont_ok(unsigned char lead, unsigned pos, unsigned char c) {
  if (pos > 1)
    return c >= 0x80 && c <= 0xbf;
  switch (lead) {
  case 0xe0:
    return c >= 0xa0 && c <= 0xbf;
  case 0xed:
    return c >= 0x80 && c <= 0x9f;
  case 0xf0:
    return c >= 0x90 && c <= 0xbf;
  case 0xf4:
    return c >= 0x80 && c <= 0x8f;
  default:
    return c >= 0x80 && c <= 0xbf;
  }
}

size_t bsl_utf8_seq_len(const unsigned char *s, size_t len) {
  if (len == 0)
    return 0;
  if (s[0] < 0x80)
    return 1;
  unsigned need = lead_len(s[0]);
  if (need == 0 || need > len)
    return 0;
  for (unsigned k = 1; k < need; k++)
    if (!cont_ok(s[0], k, s[k]))
      return 0;
  return need;
}

bool bsl_utf8_is_clean(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < len) {
    /* most text is ASCII: eight bytes at a time while it is, the last
     * word ending at the text's end (it may overlap bytes already seen):
     * the store checks every text it binds, most of them short */
    if (len >= 8) {
      uint64_t w;
      size_t at = len - i >= 8 ? i : len - 8;
      memcpy(&w, p + at, 8);
      /* no high bit set and no zero byte in the word */
      if (!(w & 0x8080808080808080ULL) &&
          !((w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL)) {
        i = at + 8;
        continue;
      }
    }
    if (p[i] - 1u < 0x7fu) { /* ASCII, not NUL */
      i++;
      continue;
    }
    if (p[i] == 0)
      return false;
    size_t k = bsl_utf8_seq_len(p + i, len - i);
    if (k == 0)
      return false;
    i += k;
  }
  return true;
}

/* Appends the LEN bytes of UNIT to K whole, or marks K full. */
static void emit(bsl_utf8_sink *k, const void *unit, size_t len) {
  if (k->full)
    return;
  if (k->len + len + 1 > k->cap) {
    k->full = true;
    return;
  }
  memcpy(k->out + k->len, unit, len);
  k->len += len;
  k->out[k->len] = '\0';
}

static void emit_escape(bsl_utf8_sink *k, unsigned char c) {
  const char esc[4] = {'\\', 'x', HEX[c >> 4], HEX[c & 15]};
  emit(k, esc, sizeof esc);
}

void bsl_utf8_sink_init(bsl_utf8_sink *k, char *out, size_t cap) {
  *k = (bsl_utf8_sink){.out = out, .cap = cap};
  if (cap > 0)
    out[0] = '\0';
  else
    k->full = true;
}

void bsl_utf8_sink_put(bsl_utf8_sink *k, unsigned char c) {
  if (k->npend > 0) {
    if (cont_ok(k->pend[0], k->npend, c)) {
      k->pend[k->npend++] = c;
      if (k->npend == k->need) {
        emit(k, k->pend, k->npend);
        k->npend = 0;
      }
      return;
    }
    /* the sequence broke off: its bytes were not text; C starts afresh */
    for (unsigned i = 0; i < k->npend; i++)
      emit_escape(k, k->pend[i]);
    k->npend = 0;
  }
  if (c != 0 && c < 0x80) {
    emit(k, &c, 1);
    return;
  }
  unsigned need = lead_len(c);
  if (need == 0) {
    emit_escape(k, c);
    return;
  }
  k->pend[0] = c;
  k->npend = 1;
  k->need = need;
}

size_t bsl_utf8_sink_end(bsl_utf8_sink *k) {
  for (unsigned i = 0; i < k->npend; i++)
    emit_escape(k, k->pend[i]);
  k->npend = 0;
  return k->len;
}

size_t bsl_utf8_clean(const char *s, size_t len, char *out, size_t cap) {
  if (cap == 0)
    return 0;
  if (len < cap && bsl_utf8_is_clean(s, len)) {
    memcpy(out, s, len);
    out[len] = '\0';
    return len;
  }
  bsl_utf8_sink k;
  bsl_utf8_sink_init(&k, out, cap);
  for (size_t i = 0; i < len && !k.full; i++)
    bsl_utf8_sink_put(&k, (unsigned char)s[i]);
  return bsl_utf8_sink_end(&k);
}

size_t bsl_utf8_clean_len(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  size_t n = 0;
  for (size_t i = 0; i < len;) {
    size_t seq = p[i] == 0 ? 0 : bsl_utf8_seq_len(p + i, len - i);
    if (seq == 0) {
      n += 4;
      i++;
    } else {
      n += seq;
      i += seq;
    }
  }
  return n;
}
