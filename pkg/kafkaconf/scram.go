package kafkaconf

import (
	"crypto/sha256"
	"crypto/sha512"
	"fmt"

	"github.com/xdg-go/scram"
)

var (
	sha256Hash scram.HashGeneratorFcn = sha256.New
	sha512Hash scram.HashGeneratorFcn = sha512.New
)

// scramClient adapts xdg-go/scram, the SCRAM implementation the sarama
// documentation points to, to sarama.SCRAMClient.
type scramClient struct {
	hash scram.HashGeneratorFcn
	conv *scram.ClientConversation
}

func newSCRAM(h scram.HashGeneratorFcn) *scramClient { return &scramClient{hash: h} }

func (c *scramClient) Begin(user, password, authzID string) error {
	client, err := c.hash.NewClient(user, password, authzID)
	if err != nil {
		return fmt.Errorf("scram client: %w", err)
	}
	c.conv = client.NewConversation()
	return nil
}

func (c *scramClient) Step(challenge string) (string, error) { return c.conv.Step(challenge) }

func (c *scramClient) Done() bool { return c.conv.Done() }
