package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/wxgate/wxgate/gateway/config"
	"github.com/wxgate/wxgate/store/backend"
)

func init() {
	rootCmd.AddCommand(newMigrateCmd())
	configCmd := &cobra.Command{Use: "config", Short: "Work with gateway configuration files"}
	configCmd.AddCommand(newConfigCheckCmd())
	rootCmd.AddCommand(configCmd)
}

// newMigrateCmd is `wxgate migrate`: apply the store's schema migrations,
// before a rolling upgrade of several replicas.
func newMigrateCmd() *cobra.Command {
	var spec, stateDir string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the store's schema migrations",
		Long: `Bring the store's schema up to date. serve applies migrations on start
too; run migrate first when several replicas are upgraded one by one, so
that the schema is ready before the first new binary starts. Migrations
only add, so old replicas keep working meanwhile. Concurrent runs are
serialized by an advisory lock.`,
		Example: `  wxgate migrate --store postgres://wxgate@db:5432/wxgate
  WXGATE_STORE=postgres://... wxgate migrate`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			if spec == "" {
				spec = "sqlite:" + filepath.Join(stateDir, "wxgate.db")
				if err := os.MkdirAll(stateDir, 0o700); err != nil {
					return err
				}
			}
			applied, err := backend.Migrate(cmd.Context(), spec, "", nil)
			if err != nil {
				return fmt.Errorf("--store: %w", err)
			}
			if len(applied) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "the schema is up to date")
			}
			for _, m := range applied {
				fmt.Fprintln(cmd.OutOrStdout(), "applied", m)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&spec, "store", "", `"sqlite:PATH" (default: wxgate.db in --state-dir) or "postgres://..."`)
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultStateDir, "where the SQLite database lives")
	markSecret(cmd.Flags(), "store")
	declareEnv(cmd, serveEnvPrefix)
	return cmd
}

// newConfigCheckCmd is `wxgate config check FILE`.
func newConfigCheckCmd() *cobra.Command {
	var skipSecrets bool
	cmd := &cobra.Command{
		Use:   "check FILE",
		Short: "Check a configuration file and print the effective configuration",
		Long: `Load FILE with the WXGATE_* overrides of this environment, and print
every error with its field path and line, or the effective configuration
with its secrets hidden. The exit status is 1 when there is an error.`,
		Example: `  wxgate config check wxgate.yaml
  wxgate config check --skip-secrets wxgate.yaml   # in CI, without the secrets`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var opts []config.Option
			if skipSecrets {
				opts = append(opts, config.SkipSecrets())
			}
			cfg, err := config.Load(args[0], opts...)
			if err != nil {
				var errs config.Errors
				if errors.As(err, &errs) {
					for _, e := range errs {
						fmt.Fprintln(cmd.OutOrStdout(), e.Error())
					}
					return fmt.Errorf("%s: %d error(s)", args[0], len(errs))
				}
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), cfg.Redacted())
			return nil
		},
	}
	cmd.Flags().BoolVar(&skipSecrets, "skip-secrets", false, "do not resolve ${ENV} and *_file secrets (check the rest)")
	return cmd
}
