package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/web"
)

const tokenUsage = `Usage:
  shopstream token create --role viewer|analyst|admin --name NAME [store flags]   prints the new token, once
  shopstream token create ... --if-missing                                      the same, unless an active token of that name exists
  shopstream token list [store flags]                                           lists the tokens (never their secrets)
  shopstream token revoke ID [store flags]                                      revokes a token at once

Store flags: --postgres URL, or --data-dir DIR (default ./data). Roles: viewer reads; analyst also labels
alerts, scores and replays quarantine; admin also changes models, experiments and tokens, and erases customers.
`

// runToken is `shopstream token create|list|revoke`: API tokens in the
// store, every change written to the audit trail with the OS user as actor.
func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		io.WriteString(stderr, tokenUsage)
		if len(args) == 0 {
			return usageError{errors.New("token: no subcommand given: want create, list or revoke")}
		}
		return flag.ErrHelp
	}
	fs := newFlagSet("token "+args[0], stderr)
	var sf storeFlags
	sf.register(fs)
	sf.command = "shopstream token " + args[0]
	switch args[0] {
	case "create":
		role := fs.String("role", "", "the token's role: viewer, analyst or admin (required)")
		name := fs.String("name", "", "who or what the token is for, e.g. ops or grafana (required)")
		ifMissing := fs.Bool("if-missing", false, "create no token while an active (unrevoked) token of this name and role exists, and say so: for a deployment step that runs on every start (a token of this name with another role is an error)")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		switch {
		case *role == "" && *name == "":
			return usageError{errors.New("token create: flags -role and -name are required, e.g. shopstream token create --role admin --name ops (roles: viewer, analyst, admin)")}
		case *role == "":
			return usageError{errors.New("token create: flag -role is required: viewer (reads), analyst (also labels, scores, replays quarantine) or admin (also models, experiments, tokens)")}
		case *name == "":
			return usageError{errors.New("token create: flag -name is required: who or what the token is for, e.g. --name ops or --name grafana")}
		}
		if _, err := web.ParseRole(*role); err != nil {
			return usageError{fmt.Errorf("invalid value %q for flag -role: want viewer, analyst or admin", *role)}
		}
		if err := web.ValidateTokenName(*name); err != nil {
			return usageError{fmt.Errorf("invalid value for flag -name: %v", err)}
		}
		return withAuthStore(ctx, &sf, func(a store.Auth) error {
			if *ifMissing {
				ts, err := a.Tokens(ctx)
				if err != nil {
					return err
				}
				for _, t := range ts {
					switch {
					case t.Name != *name || t.RevokedAt != nil:
					case t.Role != *role:
						return fmt.Errorf("token create --if-missing: token %d named %s is %s, not %s: revoke it (shopstream token revoke %d) or choose another name",
							t.ID, t.Name, t.Role, *role, t.ID)
					default:
						fmt.Fprintf(stdout, "token %d (%s, %s) exists since %s; none created (--if-missing). Its secret was shown when it was created; revoke it to have a new one made.\n",
							t.ID, t.Name, t.Role, t.CreatedAt.UTC().Format(time.RFC3339))
						return nil
					}
				}
			}
			t, err := web.CreateToken(ctx, a, *name, *role, time.Now())
			if err != nil {
				return err
			}
			auditCLI(ctx, a, stderr, "token.create", t.ID, nil, t.TokenJSON)
			fmt.Fprintf(stdout, "token %d (%s, %s) created. It is shown this once; keep it secret:\n%s\n", t.ID, t.Name, t.Role, t.Token)
			return nil
		})
	case "list":
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		return withAuthStore(ctx, &sf, func(a store.Auth) error {
			ts, err := a.Tokens(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tLAST USED\tREVOKED")
			when := func(t *time.Time) string {
				if t == nil {
					return "-"
				}
				return t.UTC().Format(time.RFC3339)
			}
			for _, t := range ts {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, t.CreatedAt.UTC().Format(time.RFC3339), when(t.LastUsedAt), when(t.RevokedAt))
			}
			return tw.Flush()
		})
	case "revoke":
		pos, err := parseFlagsArgs(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageError{fmt.Errorf("token revoke: give the ID of one token (shopstream token list shows them), not %d arguments %q", len(pos), pos)}
		}
		id, err := strconv.ParseInt(pos[0], 10, 64)
		if err != nil || id < 1 {
			return usageError{fmt.Errorf("token revoke: ID %q is not a positive integer", pos[0])}
		}
		return withAuthStore(ctx, &sf, func(a store.Auth) error {
			before, err := a.RevokeToken(ctx, id, time.Now())
			if errors.Is(err, store.ErrUnknownToken) {
				return usageError{fmt.Errorf("token revoke: no token %d (shopstream token list shows them)", id)}
			}
			if err != nil {
				return err
			}
			after, err := a.Token(ctx, id)
			if err != nil {
				return err
			}
			auditCLI(ctx, a, stderr, "token.revoke", id, tokenState(before), tokenState(after))
			if before.RevokedAt != nil {
				fmt.Fprintf(stdout, "token %d (%s) was revoked already, at %s\n", id, before.Name, before.RevokedAt.UTC().Format(time.RFC3339))
				return nil
			}
			fmt.Fprintf(stdout, "token %d (%s, %s) revoked\n", id, before.Name, before.Role)
			return nil
		})
	}
	io.WriteString(stderr, tokenUsage)
	return usageError{fmt.Errorf("token: unknown subcommand %q: want create, list or revoke", args[0])}
}

func tokenState(t *store.TokenRow) any {
	return map[string]any{"id": t.ID, "name": t.Name, "role": t.Role, "revoked_at": t.RevokedAt}
}

// withAuthStore opens the store of sf and hands fn its tokens.
func withAuthStore(ctx context.Context, sf *storeFlags, fn func(store.Auth) error) error {
	st, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	a, ok := st.(store.Auth)
	if !ok {
		return fmt.Errorf("store %T keeps no API tokens", st)
	}
	return fn(a)
}

// auditCLI records a change made from the command line to the token id,
// the OS user as the actor. A failure is reported, not fatal: the change
// is made.
func auditCLI(ctx context.Context, a store.Auth, stderr io.Writer, action string, id int64, before, after any) {
	auditCLIChange(ctx, a, stderr, action, strconv.FormatInt(id, 10), before, after)
}

// auditCLIChange records a change made from the command line to target in
// the audit trail of st (when its store keeps one), the OS user as the
// actor (cliActor). A failure is reported, not fatal: the change is made.
func auditCLIChange(ctx context.Context, st any, stderr io.Writer, action, target string, before, after any) {
	a, ok := st.(store.Auth)
	if !ok {
		fmt.Fprintf(stderr, "shopstream: the change is made, but store %T keeps no audit trail\n", st)
		return
	}
	e := store.AuditEntry{At: time.Now(), Actor: cliActor(), Action: action, Target: target}
	if before != nil {
		e.Before, _ = json.Marshal(before)
	}
	if after != nil {
		e.After, _ = json.Marshal(after)
	}
	if _, err := a.RecordAudit(ctx, &e); err != nil {
		fmt.Fprintf(stderr, "shopstream: the change is made, but writing it to the audit trail failed: %v\n", err)
	}
}
