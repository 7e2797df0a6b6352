package collect_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/logagent/internal/testutil"
)

func TestLoad(t *testing.T) {
	policy, cases := testutil.Verdicts(t, t.TempDir())
	for _, v := range cases {
		entries, problems := testutil.Judge(policy, v.Config)
		v.Check(t, "Load", entries, problems)

		es, err := policy.Load([]byte(v.Config))
		var ps collect.Problems
		switch {
		case err == nil && es == nil && v.Entries > 0, err != nil && es != nil:
			t.Errorf("%s: entries %v with err %v: want entries exactly when err is nil", v.Name, es, err)
		case err != nil && (!errors.As(err, &ps) || err.Error() != strings.Join(problems, "; ")):
			t.Errorf("%s: err %v is not the Problems listed", v.Name, err)
		}
	}
}
