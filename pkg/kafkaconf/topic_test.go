package kafkaconf

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckTopic(t *testing.T) {
	for _, tc := range []struct {
		name string
		want string // "" for valid; else a part of the message
	}{
		{"web_log", ""},
		{"a.b_c-D9", ""},
		{"...", ""}, // only "." and ".." are reserved
		{strings.Repeat("x", MaxTopicLen), ""},
		{"", "missing: set the Kafka topic"},
		{".", `"." is not a valid Kafka topic name: Kafka reserves "." and "..": choose another name`},
		{"..", `Kafka reserves "." and ".."`},
		{strings.Repeat("x", MaxTopicLen+1), "250 characters, Kafka allows at most 249: shorten it"},
		{"web log", `"web log" is not a valid Kafka topic name: ' ' is not allowed (only letters, digits, '.', '_', '-'): rename it`},
		{"bad/topic", `'/' is not allowed`},
		{"topic:1", `':' is not allowed`},
		{"tëst", `'ë' is not allowed`},
	} {
		err := CheckTopic(tc.name)
		if tc.want == "" {
			if err != nil {
				t.Errorf("CheckTopic(%q) = %v, want nil", tc.name, err)
			}
			continue
		}
		var te *TopicError
		if !errors.As(err, &te) || te.Name != tc.name || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckTopic(%q) = %v, want a *TopicError mentioning %q", tc.name, err, tc.want)
		}
	}
}
