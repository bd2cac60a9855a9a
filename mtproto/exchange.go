package mtproto

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/crypto"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/transport"
)

// keyExchange is the client side of MTProto "Creating an Authorization Key"
// (permanent keys). It follows gotd's exchange.ClientExchange step for step,
// built from gotd's exported crypto and TL pieces, with one difference:
// dh_prime's primality check goes through a PrimeCache, so a prime verified
// before is not tested again. gotd's flow has no hook for that; Dial still
// uses it when DialConfig.Primes is nil.
type keyExchange struct {
	conn    transport.Conn
	rand    io.Reader
	timeout time.Duration // bounds each write and each read
	dc      int
	keys    []exchange.PublicKey
	primes  *PrimeCache

	nonce       bin.Int128
	serverNonce bin.Int128
	newNonce    bin.Int256
}

// run performs the exchange and returns the new auth key and first salt.
func (x *keyExchange) run(ctx context.Context) (crypto.AuthKey, int64, error) {
	var err error
	if x.nonce, err = crypto.RandInt128(x.rand); err != nil {
		return crypto.AuthKey{}, 0, fmt.Errorf("nonce: %w", err)
	}
	if x.newNonce, err = crypto.RandInt256(x.rand); err != nil {
		return crypto.AuthKey{}, 0, fmt.Errorf("new nonce: %w", err)
	}
	req, err := x.reqPQ(ctx)
	if err != nil {
		return crypto.AuthKey{}, 0, err
	}
	inner, err := x.reqDHParams(ctx, req)
	if err != nil {
		return crypto.AuthKey{}, 0, err
	}
	return x.setClientDHParams(ctx, inner)
}

// reqPQ sends req_pq_multi, solves the proof of work in resPQ and returns
// req_DH_params with p_q_inner_data_dc encrypted for a server key we know.
func (x *keyExchange) reqPQ(ctx context.Context) (*mt.ReqDHParamsRequest, error) {
	var res mt.ResPQ
	if err := x.roundTrip(ctx, &mt.ReqPqMultiRequest{Nonce: x.nonce}, &res); err != nil {
		return nil, fmt.Errorf("req_pq_multi: %w", err)
	}
	if res.Nonce != x.nonce {
		return nil, errors.New("resPQ: nonce mismatch")
	}
	x.serverNonce = res.ServerNonce
	key, err := x.pickKey(res.ServerPublicKeyFingerprints)
	if err != nil {
		return nil, err
	}
	// Proof of work: pq (at most 2^63) factored into primes p < q.
	pq := new(big.Int).SetBytes(res.Pq)
	if pq.Cmp(new(big.Int).Lsh(big.NewInt(1), 63)) > 0 {
		return nil, errors.New("resPQ: pq above 2^63")
	}
	p, q, ok := factorPQ(pq)
	if !ok {
		// resPQ is unauthenticated: a pq that is no product of two primes
		// (0, 1, a prime) is refused, not handed to gotd's DecomposePQ,
		// which divides by zero on 0 and never returns on a prime.
		return nil, fmt.Errorf("resPQ: pq %v is not a product of two primes", pq)
	}
	var inner bin.Buffer
	if err := (&mt.PQInnerDataDC{
		Pq: res.Pq, P: p.Bytes(), Q: q.Bytes(), DC: x.dc,
		Nonce: x.nonce, ServerNonce: x.serverNonce, NewNonce: x.newNonce,
	}).Encode(&inner); err != nil {
		return nil, fmt.Errorf("encode p_q_inner_data_dc: %w", err)
	}
	encrypted, err := crypto.RSAPad(inner.Buf, key.RSA, x.rand)
	if err != nil {
		return nil, fmt.Errorf("rsa_pad p_q_inner_data_dc: %w", err)
	}
	return &mt.ReqDHParamsRequest{
		Nonce: x.nonce, ServerNonce: x.serverNonce, P: p.Bytes(), Q: q.Bytes(),
		PublicKeyFingerprint: key.Fingerprint(), EncryptedData: encrypted,
	}, nil
}

// pickKey returns the first of our keys the server lists.
func (x *keyExchange) pickKey(fingerprints []int64) (exchange.PublicKey, error) {
	for _, k := range x.keys {
		f := k.Fingerprint()
		for _, sf := range fingerprints {
			if sf == f {
				return k, nil
			}
		}
	}
	return exchange.PublicKey{}, exchange.ErrKeyFingerprintNotFound
}

// dhInner is what server_DH_params_ok carries, decrypted and checked.
type dhInner struct {
	prime, g, gA *big.Int
	aesKey, iv   []byte // temporary AES key and IV from the nonces
}

// reqDHParams sends req_DH_params and checks server_DH_inner_data: the nonces,
// then g and dh_prime through the PrimeCache.
func (x *keyExchange) reqDHParams(ctx context.Context, req *mt.ReqDHParamsRequest) (dhInner, error) {
	var box mt.ServerDHParamsBox
	if err := x.roundTrip(ctx, req, &box); err != nil {
		return dhInner{}, fmt.Errorf("req_DH_params: %w", err)
	}
	res, ok := box.Server_DH_Params.(*mt.ServerDHParamsOk)
	if !ok {
		return dhInner{}, fmt.Errorf("req_DH_params: server answered %T", box.Server_DH_Params)
	}
	if res.Nonce != x.nonce || res.ServerNonce != x.serverNonce {
		return dhInner{}, errors.New("server_DH_params_ok: nonce mismatch")
	}
	var in dhInner
	in.aesKey, in.iv = crypto.TempAESKeys(x.newNonce.BigInt(), x.serverNonce.BigInt())
	plain, err := crypto.DecryptExchangeAnswer(res.EncryptedAnswer, in.aesKey, in.iv)
	if err != nil {
		return dhInner{}, fmt.Errorf("decrypt server_DH_inner_data: %w", err)
	}
	var data mt.ServerDHInnerData
	if err := data.Decode(&bin.Buffer{Buf: plain}); err != nil {
		return dhInner{}, fmt.Errorf("decode server_DH_inner_data: %w", err)
	}
	if data.Nonce != x.nonce || data.ServerNonce != x.serverNonce {
		return dhInner{}, errors.New("server_DH_inner_data: nonce mismatch")
	}
	in.prime = new(big.Int).SetBytes(data.DhPrime)
	if err := x.primes.checkDH(data.G, in.prime); err != nil {
		return dhInner{}, fmt.Errorf("check DH params: %w", err)
	}
	in.g = big.NewInt(int64(data.G))
	in.gA = new(big.Int).SetBytes(data.GA)
	return in, nil
}
