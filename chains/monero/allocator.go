package monero

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// Errors callers can test with errors.Is.
var (
	// ErrSpendingWallet: the wallet holds its spend key and
	// require_view_only is set.
	ErrSpendingWallet = errors.New("the wallet can spend")
	// ErrOtherWallet: the wallet's subaddresses differ from those the ledger
	// recorded: it is another wallet.
	ErrOtherWallet = errors.New("the wallet is not the one the ledger's addresses came from")
	// ErrNotWalletAddress: an address is not one of the wallet's.
	ErrNotWalletAddress = errors.New("not an address of this wallet")
	// ErrOtherAccount: an address of the wallet, but not in the account this
	// server watches.
	ErrOtherAccount = errors.New("address is in another account of the wallet")
)

// AllocatorLedger is what the allocator needs of the ledger (*db.Ledger).
type AllocatorLedger interface {
	EnsureAddress(ctx context.Context, a chains.Address) (chains.Address, error)
	AddressByString(ctx context.Context, c chains.Chain, addr string) (chains.Address, error)
	Addresses(ctx context.Context, c chains.Chain) ([]chains.Address, error)
	HighestSubaddressIndex(ctx context.Context, c chains.Chain, account uint32) (int64, error)
}

// WalletCheck configures the start checks shared by Allocator and Watcher.
type WalletCheck struct {
	// RequireViewOnly refuses a wallet that can spend (config
	// monero.require_view_only, default true).
	RequireViewOnly bool
	Logger          *slog.Logger
}

// CheckViewOnly finds out whether the open wallet can spend. A spending
// wallet is refused with ErrSpendingWallet when RequireViewOnly is set, and
// logged as a loud warning otherwise.
func CheckViewOnly(ctx context.Context, w *WalletClient, c WalletCheck) error {
	can, err := w.CanSpend(ctx)
	if err != nil {
		return err
	}
	if !can {
		return nil
	}
	if c.RequireViewOnly {
		return fmt.Errorf("%w: monero-wallet-rpc has a wallet with its spend key open; an internet-facing server "+
			"must hold nothing to steal: open a view-only wallet there (generate_from_keys with the address "+
			"and the private view key only) and keep the spend key offline, or set monero.require_view_only = false "+
			"to accept the risk", ErrSpendingWallet)
	}
	logger(c.Logger).Warn("WALLET CAN SPEND: monero-wallet-rpc has a wallet with its spend key open; anyone who "+
		"breaks into this server or its wallet-rpc can take the funds. Use a view-only wallet "+
		"(monero.require_view_only = true refuses spending wallets)", "view_only", false)
	return nil
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return l.With("subsystem", "xmr")
}

// Allocator hands out subaddresses of one wallet account.
type Allocator struct {
	wallet  *WalletClient
	ledger  AllocatorLedger
	account uint32
	log     *slog.Logger
	mu      sync.Mutex
}

// AllocatorConfig configures NewAllocator.
type AllocatorConfig struct {
	// Account is the wallet account whose subaddresses this server hands
	// out (monero.account_index).
	Account uint32
	WalletCheck
}

// walletLabel is the label of accounts and of addresses the guard creates.
const walletLabel = "ipnd"

// NewAllocator runs the start checks and returns a ready allocator:
//   - the wallet must be view-only (see CheckViewOnly);
//   - the account is created if the wallet does not have it yet;
//   - wallet-replacement guard: if the wallet has fewer subaddresses in the
//     account than the ledger's highest index (a replaced or restored
//     wallet), addresses are created until the wallet is past it, so the
//     wallet never hands out an index the ledger already has; and if the
//     wallet's address at an index the ledger knows differs from the
//     ledger's, it is another wallet and ErrOtherWallet is returned.
func NewAllocator(ctx context.Context, w *WalletClient, l AllocatorLedger, c AllocatorConfig) (*Allocator, error) {
	a := &Allocator{wallet: w, ledger: l, account: c.Account, log: logger(c.Logger)}
	if err := CheckViewOnly(ctx, w, c.WalletCheck); err != nil {
		return nil, err
	}
	if err := a.ensureAccount(ctx); err != nil {
		return nil, err
	}
	if err := a.guard(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Allocator) ensureAccount(ctx context.Context) error {
	accts, err := a.wallet.GetAccounts(ctx)
	if err != nil {
		return fmt.Errorf("list wallet accounts: %w", err)
	}
	for n := uint32(len(accts)); n <= a.account; n++ {
		idx, _, err := a.wallet.CreateAccount(ctx, walletLabel)
		if err != nil {
			return fmt.Errorf("create wallet account %d: %w", a.account, err)
		}
		a.log.Info("created wallet account", "account", idx)
		if idx >= a.account {
			break
		}
	}
	return nil
}

// guard is the wallet-replacement check (see NewAllocator).
func (a *Allocator) guard(ctx context.Context) error {
	maxIdx, err := a.ledger.HighestSubaddressIndex(ctx, chains.XMR, a.account)
	if err != nil {
		return err
	}
	res, err := a.wallet.GetAddress(ctx, a.account, nil)
	if err != nil {
		return fmt.Errorf("list wallet subaddresses of account %d: %w", a.account, err)
	}
	// Compare what both have before creating anything, so another wallet
	// is refused without touching it.
	if _, err := a.compare(ctx, res.Addresses, false); err != nil {
		return err
	}
	walletMax := int64(len(res.Addresses)) - 1
	created := 0
	for walletMax < maxIdx {
		n := min(maxIdx-walletMax, 64) // wallet-rpc creates at most 64 per call
		_, idxs, err := a.wallet.CreateAddresses(ctx, a.account, uint32(n), walletLabel)
		if err != nil {
			return fmt.Errorf("advance wallet subaddresses to the ledger's index %d: %w", maxIdx, err)
		}
		if len(idxs) == 0 {
			return fmt.Errorf("advance wallet subaddresses: wallet-rpc created none")
		}
		walletMax = int64(idxs[len(idxs)-1])
		created += len(idxs)
	}
	if created > 0 {
		a.log.Warn("wallet was behind the ledger (replaced or restored wallet): created subaddresses so no index is handed out twice",
			"account", a.account, "created", created, "ledger_max_index", maxIdx)
		res, err = a.wallet.GetAddress(ctx, a.account, nil)
		if err != nil {
			return fmt.Errorf("list wallet subaddresses of account %d: %w", a.account, err)
		}
		if err := a.wallet.Store(ctx); err != nil {
			return fmt.Errorf("store wallet: %w", err)
		}
	}
	checked, err := a.compare(ctx, res.Addresses, true)
	if err != nil {
		return err
	}
	a.log.Info("wallet matches the ledger", "account", a.account, "wallet_subaddresses", len(res.Addresses),
		"ledger_addresses_checked", checked)
	return nil
}

// compare checks every ledger address of the account against the wallet's
// address at the same index; with all, an index the wallet lacks is an
// error too.
func (a *Allocator) compare(ctx context.Context, wallet []AddressInfo, all bool) (int, error) {
	byIndex := make(map[uint32]string, len(wallet))
	for _, ai := range wallet {
		byIndex[ai.AddressIndex] = ai.Address
	}
	known, err := a.ledger.Addresses(ctx, chains.XMR)
	if err != nil {
		return 0, err
	}
	checked := 0
	for _, k := range known {
		if k.AccountIndex == nil || k.SubaddressIndex == nil || *k.AccountIndex != a.account {
			continue
		}
		got, ok := byIndex[*k.SubaddressIndex]
		if !ok {
			if all {
				return 0, fmt.Errorf("%w: the ledger has subaddress %d/%d but the wallet does not", ErrOtherWallet, a.account, *k.SubaddressIndex)
			}
			continue
		}
		if got != k.Address {
			return 0, fmt.Errorf("%w: subaddress %d/%d is %s in the wallet but %s in the ledger; refusing to start "+
				"(open the wallet whose view key made these addresses, or use another account_index)",
				ErrOtherWallet, a.account, *k.SubaddressIndex, got, k.Address)
		}
		checked++
	}
	return checked, nil
}

// Allocate creates a new subaddress in the account, records it in the ledger
// and saves the wallet, then returns it. An index the ledger already has is
// never handed out.
func (a *Allocator) Allocate(ctx context.Context, label string) (chains.Address, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for try := 0; try < 1000; try++ {
		addr, idx, err := a.wallet.CreateAddress(ctx, a.account, label)
		if err != nil {
			return chains.Address{}, fmt.Errorf("create subaddress: %w", err)
		}
		if _, err := a.ledger.AddressByString(ctx, chains.XMR, addr); err == nil {
			a.log.Warn("wallet created a subaddress the ledger already has; skipping it", "account", a.account, "index", idx)
			continue
		} else if !errors.Is(err, ledger.ErrNotFound) {
			return chains.Address{}, err
		}
		acct, sub := a.account, idx
		rec, err := a.ledger.EnsureAddress(ctx, chains.Address{
			Chain: chains.XMR, Address: addr, AccountIndex: &acct, SubaddressIndex: &sub, Label: label,
		})
		if errors.Is(err, ledger.ErrIndexTaken) {
			// The cause is quoted, not wrapped: wrapped, ledger.ErrIndexTaken
			// would make the API answer 409 as if the caller's index clashed,
			// while this is the operator's wallet mix-up.
			return chains.Address{}, fmt.Errorf("%w: %s", ErrOtherWallet, err.Error())
		}
		if err != nil {
			return chains.Address{}, fmt.Errorf("record subaddress %d/%d: %w", acct, sub, err)
		}
		// wallet-rpc keeps new subaddresses in memory until store or exit;
		// after a crash the start guard would recreate them anyway.
		if err := a.wallet.Store(ctx); err != nil {
			a.log.Warn("store wallet after creating a subaddress failed", "index", sub, "err", err)
		}
		a.log.Debug("allocated subaddress", "account", acct, "index", sub)
		return rec, nil
	}
	return chains.Address{}, errors.New("create subaddress: the wallet keeps returning addresses the ledger already has")
}

// Validate reports whether address is one of the wallet's subaddresses in
// the watched account and returns its index. Errors: ErrNotWalletAddress
// (another wallet's address or not an address), ErrOtherAccount.
func (a *Allocator) Validate(ctx context.Context, address string) (SubaddressIndex, error) {
	return ValidateAddress(ctx, a.wallet, a.account, address)
}

// ValidateAddress is Validate without an Allocator.
func ValidateAddress(ctx context.Context, w *WalletClient, account uint32, address string) (SubaddressIndex, error) {
	idx, err := w.GetAddressIndex(ctx, address)
	if IsRPCCode(err, CodeWrongAddress) {
		var re *RPCError
		errors.As(err, &re)
		return SubaddressIndex{}, fmt.Errorf("%w: %s", ErrNotWalletAddress, re.Message)
	}
	if err != nil {
		return SubaddressIndex{}, err
	}
	if idx.Major != account {
		return idx, fmt.Errorf("%w: it is in account %d, this server watches account %d", ErrOtherAccount, idx.Major, account)
	}
	return idx, nil
}

// Account is the watched account index.
func (a *Allocator) Account() uint32 { return a.account }
