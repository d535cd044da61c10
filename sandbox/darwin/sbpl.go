package darwin

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxString bounds one SBPL string: sandbox-exec refuses a string literal
// longer than about 1 KiB ("Error reading string"), and one such string
// invalidates the whole profile, so the generator refuses it first.
const maxString = 1000

// quote renders s as an SBPL (Scheme) string literal. Backslash and double
// quote are escaped, as are the three control characters a file name can
// reasonably hold (newline, tab, carriage return); any other control
// character or invalid UTF-8 is refused, because the profile reader's
// handling of it is not known and a rule that silently names a different
// path fails open.
func quote(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%q is not valid UTF-8", s)
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			return "", fmt.Errorf("%q holds control character %U, which a seatbelt rule cannot name", s, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	if b.Len() > maxString {
		return "", fmt.Errorf("%.60q…: %d bytes, longer than a seatbelt string may be (%d)", s, b.Len(), maxString)
	}
	return b.String(), nil
}

// ereMeta are the characters POSIX extended regular expressions give a
// meaning to outside a bracket expression.
const ereMeta = `.[]()*+?{}|^$\`

// regexLiteral escapes s so that a POSIX ERE matches exactly s. Only the
// metacharacters are escaped: a backslash before any other character is
// undefined in POSIX.
func regexLiteral(s string) string {
	if !strings.ContainsAny(s, ereMeta) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(ereMeta, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
