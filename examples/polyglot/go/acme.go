// Package acme is the Go client of Acme's engine.
package acme

// Version is the client's release.
const Version = "0.2.0"
