// Package config is the configuration of wxgate's gateway (wxgate serve):
// one YAML file describing one or several mini programs ("apps") and the
// gateway's global settings, WXGATE_* environment variables over it, and
// the flags of wxgate serve over both. docs/configuration.md lists every
// field.
//
// # One pipeline
//
// Load (and Parse, and FromFlags for a run with no file) go through the
// same steps:
//
//  1. decode the file, ${NAME} references in string values expanded;
//  2. apply the WXGATE_* variables (EnvName gives a field's variable);
//  3. apply the flags given (WithFlags, FromFlags);
//  4. fill in the defaults;
//  5. read the *_file secrets;
//  6. validate.
//
// Every error of every step is returned at once, as Errors: each a
// *FieldError with the field's path ("apps.shop.token"), its line in the
// file or the variable or flag that set it, and a sentinel for errors.Is.
// An unknown field is an error, so that a typo cannot pass silently.
//
// # Secrets
//
// Tokens, EncodingAESKeys, AppSecrets, webhook secrets, the admin token and
// API keys are Secrets: their value is reachable only through
// Secret.Value, and every way of printing them, and any error, shows
// "[redacted]" or nothing. In the file they come from ${NAME} references
// or from name_file paths; a secret written inline is an error unless
// allow_inline_secrets is set (local development). Config.Redacted prints
// the effective configuration with the secrets hidden.
//
// # Why goccy/go-yaml and no koanf
//
// The configuration needs precise error positions, strict refusal of
// unknown fields, ${NAME} expansion in values but never in keys, and
// secrets that never reach an error message. go-yaml is one small
// dependency whose parser gives a syntax tree with the line and column of
// every key and value; this package walks the Config types over that tree
// itself, so that it collects every error rather than the first, places
// each on its line, and never quotes the source (whose lines may hold a
// secret). A layered loader such as koanf would bring a provider per
// source and flatten them into one map of keys, losing each value's line,
// with unknown keys reported only if its decoder is configured to.
package config
