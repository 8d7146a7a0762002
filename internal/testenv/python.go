package testenv

import (
	"os/exec"
	"strings"
	"testing"
)

// Python returns the python3 that the reference implementations (oracles) run on, after checking
// that it imports each of modules. Without it the test calls Missing: CI installs every oracle
// (requirements-test.txt).
func Python(t testing.TB, modules ...string) string {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err == nil && len(modules) > 0 {
		var out []byte
		out, err = exec.Command(python, "-c", "import "+strings.Join(modules, ", ")).CombinedOutput()
		if err != nil {
			err = &exec.Error{Name: "import " + strings.Join(modules, ", "), Err: errString(strings.TrimSpace(string(out)))}
		}
	}
	if err != nil {
		Missing(t, "the reference implementation is not available (pip install -r requirements-test.txt): "+err.Error())
	}
	return python
}

type errString string

func (e errString) Error() string { return string(e) }
