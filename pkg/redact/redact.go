// Package redact hides credentials before text reaches a log line, an
// HTTP endpoint or an error: the one place that knows what a password in a
// URL looks like, so every caller hides it the same way.
package redact

import (
	"net/url"
	"regexp"
)

// Mask replaces a hidden password.
const Mask = "xxxxx"

// userinfo matches the password part of "scheme://user:password@" in
// free text (an error message quoting a URL); "user" stays, it helps the
// operator and is not a secret.
var userinfo = regexp.MustCompile(`(://[^/?#@\s"':]*:)[^/?#@\s"']*@`)

// URL returns rawURL with the password of its user info replaced by Mask.
// Text that does not parse is masked by Text's pattern instead.
func URL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return Text(rawURL)
	}
	if _, has := u.User.Password(); !has {
		return rawURL
	}
	u.User = url.UserPassword(u.User.Username(), Mask)
	return u.String()
}

// URLs is URL over a list.
func URLs(urls []string) []string {
	out := make([]string, len(urls))
	for i, u := range urls {
		out[i] = URL(u)
	}
	return out
}

// Text masks the password of every URL with user info in s.
func Text(s string) string {
	return userinfo.ReplaceAllString(s, "${1}"+Mask+"@")
}

// Error returns err with Text applied to its message; errors.Is and
// errors.As still see the original chain. nil stays nil.
func Error(err error) error {
	if err == nil {
		return nil
	}
	return &redacted{err: err}
}

type redacted struct{ err error }

func (r *redacted) Error() string { return Text(r.err.Error()) }
func (r *redacted) Unwrap() error { return r.err }
