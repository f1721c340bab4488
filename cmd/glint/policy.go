package main

import (
	"context"
	"fmt"
	"io"

	"glint/internal/app"
	"glint/internal/policy"
)

const policyHelp = "glint policy sample|effective|check: the policy rules (oslo.policy's tools).\n\n" +
	"  sample     print the default rules as a commented policy.yaml (oslopolicy-sample-generator)\n" +
	"  effective  print the rules in effect: defaults merged with the policy files (oslopolicy-policy-generator)\n" +
	"  check      report policy-file rules that are unknown, malformed or cyclic; exit 1 if any (oslopolicy-validator)"

func policyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	sub, code, ok := subcommand(args, "policy", policyHelp, stderr, "sample", "effective", "check")
	if !ok {
		return code
	}
	fs, c := newFlagSet("policy "+sub, policyHelp, stderr)
	if err := fs.Parse(args[1:]); err != nil {
		return flagExit(err)
	}
	if sub == "sample" {
		if err := policy.RenderSample(stdout, policy.GlanceDefaults(), false); err != nil {
			fmt.Fprintln(stderr, "glint:", err)
			return 1
		}
		return 0
	}
	cfg, err := c.load()
	if err != nil {
		fmt.Fprintln(stderr, "glint:", err)
		return 1
	}
	a, err := app.NewAuthorization(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "glint:", err)
		return 1
	}
	if sub == "effective" {
		if err := a.Enforcer.RenderEffective(stdout); err != nil {
			fmt.Fprintln(stderr, "glint:", err)
			return 1
		}
		return 0
	}
	var problems []policy.Problem
	for _, p := range a.Enforcer.Check() {
		if p.Msg == "policy file not found" {
			// Not an error: oslo.policy then runs on the defaults.
			fmt.Fprintf(stdout, "%s: not found; the defaults are in effect\n", p.Rule)
			continue
		}
		problems = append(problems, p)
		fmt.Fprintln(stdout, p)
	}
	if len(problems) > 0 {
		return 1
	}
	fmt.Fprintf(stdout, "policy OK (%d files)\n", len(a.Enforcer.Sources()))
	return 0
}
