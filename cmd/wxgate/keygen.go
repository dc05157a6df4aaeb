package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wxgate/wxgate/wxcrypt"
)

func init() { rootCmd.AddCommand(newKeygenCmd()) }

func newKeygenCmd() *cobra.Command {
	var asEnv bool
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Print a fresh Token and EncodingAESKey",
		Long: `Print a new random Token (32 letters and digits) and EncodingAESKey
(43 letters and digits). Paste both into the WeChat console under
开发 → 开发管理 → 消息推送配置, and give the same values to wxgate serve.`,
		Example: `  wxgate keygen
  wxgate keygen --env >> .env   # WXGATE_TOKEN=... and WXGATE_AES_KEY=...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			token, err := wxcrypt.GenerateToken()
			if err != nil {
				return err
			}
			key, err := wxcrypt.GenerateEncodingAESKey()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asEnv {
				fmt.Fprintf(out, "WXGATE_TOKEN=%s\nWXGATE_AES_KEY=%s\n", token, key)
				return nil
			}
			fmt.Fprintf(out, "Token:          %s\nEncodingAESKey: %s\n", token, key)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asEnv, "env", false, "print as WXGATE_TOKEN=... and WXGATE_AES_KEY=... lines")
	return cmd
}
