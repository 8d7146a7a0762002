// Package yamlstr writes strings into the YAML front matter of model cards and Space READMEs.
package yamlstr

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Quote returns s as a YAML double-quoted scalar: a JSON string (valid YAML) in which the
// characters YAML does not allow in a file (C0 and C1 controls, U+FFFE/U+FFFF; real tweets hold
// U+0089) and U+0085, a line break to YAML 1.1 readers, are escaped as \uXXXX: JSON leaves them
// raw.
func Quote(s string) string {
	b, _ := json.Marshal(s)
	var out strings.Builder
	for _, r := range string(b) {
		if printable(r) {
			out.WriteRune(r)
		} else {
			fmt.Fprintf(&out, `\u%04x`, r)
		}
	}
	return out.String()
}

// printable is YAML 1.2's c-printable set, less U+0085 (NEL).
func printable(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0x7e) ||
		(r >= 0xa0 && r <= 0xd7ff) || (r >= 0xe000 && r <= 0xfffd) || (r >= 0x10000 && r <= 0x10ffff)
}
