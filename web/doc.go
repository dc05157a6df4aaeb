// Package web is the console of `wxgate dev`: a web page to chat as a
// WeChat user with a mini program served by the gateway, watch every push
// on the wire, read what the gateway stored and delivered, and switch how
// WeChat pushes, live.
//
// It is server-rendered (html/template), with one small script for live
// updates over server-sent events (GET /events) and no build step: the
// templates, the stylesheet and the script are embedded in the binary.
// Every string is in Chinese and English, chosen by the browser's
// Accept-Language or the switch in the header.
//
// What the console shows comes from two places, the same ones a user can
// script against: the emulator (package wechatsim: its World of users and
// their transcripts, the mock Open API, and the push client's outcomes,
// kept here as "the wire"), and the gateway's /v1/ API and /metrics, which
// the console calls in-process with the admin token. Package web is
// development tooling: it is the one place besides cmd/wxgate that
// imports the emulator; the gateway itself never does.
//
// The console has no login: serve it on a loopback address. It refuses
// state-changing requests from other sites (Origin and Sec-Fetch-Site)
// and pages whose Host is not the address it was given, so that a web page
// the developer visits cannot drive it.
package web
