package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/rewards"
	"github.com/medchain/medchain/vault/vaultcfg"
)

var _ api.RewardDesk = (*Node)(nil)

// rewardDesk is opened on the first reward request: the node's vault (the
// tallies and link tables), its keys directory (the organisations' worker
// keys, which sign vouchers) and its own API.
type rewardDesk struct {
	once sync.Once
	desk *compute.RewardDesk
	err  error
}

// Rewards implements api.RewardDesk: the node answers patients of the
// organisations whose worker keys it holds, from their sealed tallies.
func (n *Node) Rewards(ctx context.Context, req *rewards.Request) (*rewards.Answer, error) {
	if err := n.openRewardDesk(); err != nil {
		return nil, err
	}
	return n.rewards.desk.Rewards(ctx, req)
}

// RewardOrgs implements api.RewardDesk: the organisations whose worker keys
// the node holds, none if it has no vault.
func (n *Node) RewardOrgs(ctx context.Context) ([]string, error) {
	if err := n.openRewardDesk(); errors.Is(err, rewards.ErrNoTally) {
		return []string{}, nil
	} else if err != nil {
		return nil, err
	}
	return n.rewards.desk.Orgs()
}

func (n *Node) openRewardDesk() error {
	n.rewards.once.Do(func() {
		dir := filepath.Join(n.home, "vault")
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			n.rewards.err = fmt.Errorf("%w: this node has no vault", rewards.ErrNoTally)
			return
		}
		v, err := vaultcfg.Open(dir)
		if err != nil {
			n.rewards.err = err
			return
		}
		n.rewards.desk = &compute.RewardDesk{KeysDir: KeysDir(n.home), Vault: v, Ledger: client.New("http://" + n.APIAddr())}
	})
	return n.rewards.err
}
