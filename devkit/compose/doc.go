// Package compose checks the repository's docker-compose.yml and the
// services' Dockerfiles (no Docker engine runs on the build machines, so
// this is how they stay consistent with the code), and the module layout:
// what the two binaries link and what the product modules require. Each
// service's module checks the compose environment against its own settings
// loader with testkit.RepoComposeService.
package compose
