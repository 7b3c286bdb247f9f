/*
 * Escaping for text that comes from logs (see escape.h): the one copy used
 * by reports (HTML, JSON, terminal), `kpi`'s table and the alert payload.
 */
#include "escape.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* ---- decoding ---- */

/* Decodes one UTF-8 character at P (N bytes left): returns the code point
 * and its length in *LEN, or -1 with *LEN = 1 for a byte that does not
 * start a valid shortest-form sequence. */
static int32_t utf8_next(const unsigned char *p, size_t n, size_t *len) {
  *len = 1;
  if (p[0] < 0x80)
    return p[0];
  int need;
  int32_t cp, min;
  if ((p[0] & 0xE0) == 0xC0) {
    need = 1, cp = p[0] & 0x1F, min = 0x80;
  } else if ((p[0] & 0xF0) == 0xE0) {
    need = 2, cp = p[0] & 0x0F, min = 0x800;
  } else if ((p[0] & 0xF8) == 0xF0) {
    need = 3, cp = p[0] & 0x07, min = 0x10000;
  } else {
    return -1;
  }
  if ((size_t)need >= n)
    return -1;
  for (int i = 1; i <= need; i++) {
    if ((p[i] & 0xC0) != 0x80)
      return -1;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return -1;
  *len = (size_t)need + 1;
  return cp;
}

/* C0 controls and DEL are shown as the text "\xHH" (a font may lack the
 * control pictures); this marks them for the writers. */
#define CONTROL_BASE 0x110000

/* What a character becomes for a human reader: C0 controls and DEL as
 * CONTROL_BASE + byte, bad bytes, C1 controls and bidi overrides as
 * U+FFFD. */
static int32_t visible(int32_t cp) {
  if (cp < 0)
    return 0xFFFD;
  if (cp < 0x20 || cp == 0x7F)
    return CONTROL_BASE + cp;
  if ((cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
      (cp >= 0x2066 && cp <= 0x2069))
    return 0xFFFD;
  return cp;
}

/* Encodes CP (or a CONTROL_BASE marker as "\xHH") into O, which has room
 * for 4 bytes; returns the bytes written. */
static size_t utf8_put(int32_t cp, char *o) {
  if (cp >= CONTROL_BASE) {
    static const char HEX[] = "0123456789abcdef";
    int b = cp - CONTROL_BASE;
    o[0] = '\\', o[1] = 'x', o[2] = HEX[b >> 4], o[3] = HEX[b & 15];
    return 4;
  }
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | (cp >> 18));
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Columns a shown character takes: 4 for "\xHH", else 1. */
static size_t columns_of(int32_t shown) {
  return shown >= CONTROL_BASE ? 4 : 1;
}

/* Columns of S as it will be shown. */
static size_t count_chars(const char *s) {
  size_t n = 0, len, left = strlen(s);
  const unsigned char *p = (const unsigned char *)s;
  while (left) {
    n += columns_of(visible(utf8_next(p, left, &len)));
    p += len, left -= len;
  }
  return n;
}

void bsl_html_text(FILE *out, const char *s, size_t maxchars) {
  if (!s)
    return;
  const unsigned char *p = (const unsigned char *)s;
  size_t left = strlen(s), len, shown = 0;
  bool cut = maxchars && count_chars(s) > maxchars;
  size_t limit = cut ? maxchars - 1 : SIZE_MAX;
  while (left) {
    int32_t cp = visible(utf8_next(p, left, &len));
    if (shown + columns_of(cp) > limit)
      break;
    switch (cp) {
    case '&':
      fputs("&amp;", out);
      break;
    case '<':
      fputs("&lt;", out);
      break;
    case '>':
      fputs("&gt;", out);
      break;
    case '"':
      fputs("&quot;", out);
      break;
    case '\'':
      fputs("&#39;", out);
      break;
    default: {
      char b[4];
      fwrite(b, 1, utf8_put(cp, b), out);
    }
    }
    p += len, left -= len, shown += columns_of(cp);
  }
  if (cut)
    fputs("\u2026", out);
}

void bsl_json_string(FILE *out, const char *s) {
  if (!s) {
    fputs("null", out);
    return;
  }
  const unsigned char *p = (const unsigned char *)s;
  size_t left = strlen(s), len;
  fputc('"', out);
  while (left) {
    int32_t cp = utf8_next(p, left, &len);
    if (cp < 0)
      cp = 0xFFFD;
    switch (cp) {
    case '"':
      fputs("\\\"", out);
      break;
    case '\\':
      fputs("\\\\", out);
      break;
    case '\n':
      fputs("\\n", out);
      break;
    case '\t':
      fputs("\\t", out);
      break;
    case '\r':
      fputs("\\r", out);
      break;
    default:
      /* C1 controls and bidirectional overrides stay readable as \u
       * escapes rather than raw, so JSON piped to a terminal is inert */
      if (cp < 0x20 || cp == 0x7F || cp == '<' || cp == '>' || cp == '&' ||
          cp == 0x2028 || cp == 0x2029 || (cp >= 0x80 && cp <= 0x9F) ||
          (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069)) {
        fprintf(out, "\\u%04x", (unsigned)cp);
      } else {
        char b[4];
        fwrite(b, 1, utf8_put(cp, b), out);
      }
    }
    p += len, left -= len;
  }
  fputc('"', out);
}

size_t bsl_term_text(const char *s, size_t width, char *out, size_t cap) {
  if (cap == 0)
    return 0;
  out[0] = '\0';
  if (!s || width == 0)
    return 0;
  const unsigned char *p = (const unsigned char *)s;
  size_t left = strlen(s), len, used = 0, o = 0;
  bool cut = count_chars(s) > width;
  size_t limit = cut ? width - 1 : width;
  while (left) {
    char b[4];
    int32_t cp = visible(utf8_next(p, left, &len));
    if (used + columns_of(cp) > limit)
      break;
    size_t k = utf8_put(cp, b);
    if (o + k + 4 > cap) {
      cut = true;
      break;
    }
    memcpy(out + o, b, k);
    o += k, used += columns_of(cp);
    p += len, left -= len;
  }
  if (cut && o + 4 <= cap) {
    memcpy(out + o, "\u2026", 3);
    o += 3, used++;
  }
  out[o] = '\0';
  return used;
}

void bsl_term_paragraph(FILE *o, const char *text, int indent, int width) {
  char safe[8 * 1024];
  bsl_term_text(text, sizeof safe / 4 - 1, safe, sizeof safe);
  const char *p = safe;
  while (*p) {
    while (*p == ' ')
      p++;
    if (!*p)
      break;
    /* the longest run of whole words within the width; a word longer than
     * a line is cut where the line ends */
    const char *end = p, *cut = NULL;
    int col = indent;
    while (*end && *end != '\n') {
      if (*end == ' ')
        cut = end;
      if (col >= width && ((unsigned char)*end & 0xC0) != 0x80)
        break;
      col += ((unsigned char)*end & 0xC0) != 0x80;
      end++;
    }
    if (!*end || *end == '\n' || !cut)
      cut = end;
    fprintf(o, "%*s%.*s\n", indent, "", (int)(cut - p), p);
    p = *cut == '\n' ? cut + 1 : cut;
  }
}
