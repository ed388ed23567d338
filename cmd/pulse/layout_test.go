package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The house plan (README "Layout"): internal/ holds what the stages stand on, so nothing under
// it may import a stage; and the binary holds no test code.
func TestLayout(t *testing.T) {
	t.Parallel()
	const module = "github.com/pulsehq/pulse/"
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	stages := []string{"ingest", "consumers", "live"}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, " ")
		if !strings.HasPrefix(pkg, module+"internal/") {
			continue
		}
		for _, imp := range strings.Fields(imports) {
			for _, s := range stages {
				if imp == module+s || strings.HasPrefix(imp, module+s+"/") {
					t.Errorf("%s imports the stage %s", pkg, imp)
				}
			}
		}
	}

	out, err = exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "testing" || strings.HasPrefix(pkg, module) && (strings.HasSuffix(pkg, "test") || strings.HasSuffix(pkg, "testenv")) {
			t.Errorf("the binary holds the test package %s", pkg)
		}
	}
}
