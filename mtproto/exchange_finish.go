package mtproto

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/crypto"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/proto"
	"github.com/gotd/td/proto/codec"
)

// setClientDHParams picks b, sends g_b in set_client_DH_params and, on
// dh_gen_ok whose new_nonce_hash1 matches, returns auth_key = g_a^b mod
// dh_prime and the first server salt.
func (x *keyExchange) setClientDHParams(ctx context.Context, in dhInner) (crypto.AuthKey, int64, error) {
	b, err := rand.Int(x.rand, new(big.Int).Lsh(big.NewInt(1), crypto.RSAKeyBits))
	if err != nil {
		return crypto.AuthKey{}, 0, fmt.Errorf("random b: %w", err)
	}
	gB := new(big.Int).Exp(in.g, b, in.prime)
	// MTProto: g, g_a and g_b must lie in (1, dh_prime-1), g_a and g_b
	// also 2^(2048-64) away from both ends.
	if err := crypto.CheckDHParams(in.prime, in.g, in.gA, gB); err != nil {
		return crypto.AuthKey{}, 0, fmt.Errorf("check DH params: %w", err)
	}
	var inner bin.Buffer
	if err := (&mt.ClientDHInnerData{Nonce: x.nonce, ServerNonce: x.serverNonce, GB: gB.Bytes()}).Encode(&inner); err != nil {
		return crypto.AuthKey{}, 0, fmt.Errorf("encode client_DH_inner_data: %w", err)
	}
	encrypted, err := crypto.EncryptExchangeAnswer(x.rand, inner.Buf, in.aesKey, in.iv)
	if err != nil {
		return crypto.AuthKey{}, 0, fmt.Errorf("encrypt client_DH_inner_data: %w", err)
	}
	var box mt.SetClientDHParamsAnswerBox
	req := &mt.SetClientDHParamsRequest{Nonce: x.nonce, ServerNonce: x.serverNonce, EncryptedData: encrypted}
	if err := x.roundTrip(ctx, req, &box); err != nil {
		return crypto.AuthKey{}, 0, fmt.Errorf("set_client_DH_params: %w", err)
	}
	res, ok := box.Set_client_DH_params_answer.(*mt.DhGenOk)
	if !ok {
		// dh_gen_retry and dh_gen_fail end the exchange, as in gotd.
		return crypto.AuthKey{}, 0, fmt.Errorf("set_client_DH_params: server answered %T", box.Set_client_DH_params_answer)
	}
	if res.Nonce != x.nonce || res.ServerNonce != x.serverNonce {
		return crypto.AuthKey{}, 0, errors.New("dh_gen_ok: nonce mismatch")
	}
	var key crypto.Key
	new(big.Int).Exp(in.gA, b, in.prime).FillBytes(key[:])
	if crypto.NonceHash1(x.newNonce, key) != res.NewNonceHash1 {
		return crypto.AuthKey{}, 0, errors.New("dh_gen_ok: new_nonce_hash1 mismatch")
	}
	return crypto.AuthKey{Value: key, ID: key.ID()}, crypto.ServerSalt(x.newNonce, x.serverNonce), nil
}

// maxSkipped404 is how many transport -404s one exchange read skips.
const maxSkipped404 = 3

// roundTrip writes req as an unencrypted message and reads the answer into
// res. Each of the write and the read is bounded by x.timeout.
func (x *keyExchange) roundTrip(ctx context.Context, req bin.Encoder, res bin.Decoder) error {
	var body bin.Buffer
	if err := req.Encode(&body); err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	var b bin.Buffer
	msg := proto.UnencryptedMessage{
		MessageID:   int64(proto.NewMessageID(time.Now(), proto.MessageFromClient)),
		MessageData: body.Buf,
	}
	if err := msg.Encode(&b); err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, x.timeout)
	err := x.conn.Send(wctx, &b)
	cancel()
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	for skipped := 0; ; skipped++ {
		b.Reset()
		rctx, cancel := context.WithTimeout(ctx, x.timeout)
		err := x.conn.Recv(rctx, &b)
		cancel()
		// A -404 from the transport during an exchange is skipped, as gotd
		// does: the server may still answer. A few, not forever: each read
		// has its own timeout, so a server that only says -404 would keep
		// the exchange going until the caller's context ends.
		var perr *codec.ProtocolErr
		if errors.As(err, &perr) && perr.Code == codec.CodeAuthKeyNotFound && skipped < maxSkipped404 {
			continue
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		break
	}
	var ans proto.UnencryptedMessage
	if err := ans.Decode(&b); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if proto.MessageID(ans.MessageID).Type() != proto.MessageServerResponse {
		return errors.New("answer's msg_id is not a server response's")
	}
	if err := res.Decode(&bin.Buffer{Buf: ans.MessageData}); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}
