package kafkaconf

import (
	"fmt"
	"strings"
)

// MaxTopicLen is the longest topic name Kafka accepts (255 less room for
// the suffixes it appends to partition directory names).
const MaxTopicLen = 249

// TopicError says why a name breaks Kafka's topic-name rules and how to
// fix it.
type TopicError struct {
	Name    string
	Problem string // what is wrong and what to do, without the name
}

func (e *TopicError) Error() string {
	if e.Name == "" {
		return e.Problem
	}
	return fmt.Sprintf("%q is not a valid Kafka topic name: %s", e.Name, e.Problem)
}

// CheckTopic applies Kafka's topic-name rules: 1 to 249 characters from
// a-z A-Z 0-9 . _ -, and not "." or ".." (Kafka reserves them). Both
// services call it, so the agent never sends to a topic the transfer
// could not be configured to read.
func CheckTopic(name string) error {
	problem := ""
	switch {
	case name == "":
		problem = "missing: set the Kafka topic the records go to"
	case name == "." || name == "..":
		problem = `Kafka reserves "." and "..": choose another name`
	case len(name) > MaxTopicLen:
		problem = fmt.Sprintf("%d characters, Kafka allows at most %d: shorten it", len(name), MaxTopicLen)
	default:
		if i := strings.IndexFunc(name, func(r rune) bool { return !topicRune(r) }); i >= 0 {
			problem = fmt.Sprintf("%q is not allowed (only letters, digits, '.', '_', '-'): rename it", []rune(name[i:])[0])
		}
	}
	if problem == "" {
		return nil
	}
	return &TopicError{Name: name, Problem: problem}
}

func topicRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}
