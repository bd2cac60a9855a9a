package tgsim

import (
	"fmt"
	"strings"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
)

// help.* work without an account, on any DC.
var helpMethods = []method{
	handle(anyone, noFlood, (*world).getConfig),
	handle(anyone, noFlood, (*world).getNearestDC),
}

func (w *world) getNearestDC(r *request, _ *tg.HelpGetNearestDCRequest) (bin.Encoder, error) {
	return &tg.NearestDC{Country: "ZZ", ThisDC: r.dc.id, NearestDC: r.dc.id}, nil
}

func (w *world) getConfig(r *request, _ *tg.HelpGetConfigRequest) (bin.Encoder, error) {
	s := w.srv
	cfg := &tg.Config{
		Date:                    int(r.now.Unix()),
		Expires:                 int(r.now.Add(time.Hour).Unix()),
		ThisDC:                  r.dc.id,
		DCTxtDomainName:         "tgsim.invalid",
		ChatSizeMax:             200,
		MegagroupSizeMax:        200000,
		ForwardedCountMax:       100,
		OnlineUpdatePeriodMs:    210000,
		OfflineBlurTimeoutMs:    5000,
		OfflineIdleTimeoutMs:    30000,
		OnlineCloudTimeoutMs:    300000,
		NotifyCloudDelayMs:      30000,
		NotifyDefaultDelayMs:    1500,
		PushChatPeriodMs:        60000,
		PushChatLimit:           2,
		EditTimeLimit:           172800,
		RevokeTimeLimit:         2147483647,
		RevokePmTimeLimit:       2147483647,
		RatingEDecay:            2419200,
		StickersRecentLimit:     200,
		ChannelsReadMediaPeriod: 604800,
		CallReceiveTimeoutMs:    20000,
		CallRingTimeoutMs:       90000,
		CallConnectTimeoutMs:    30000,
		CallPacketTimeoutMs:     10000,
		MeURLPrefix:             "https://t.me/",
		CaptionLengthMax:        1024,
		MessageLengthMax:        maxMessageLen,
		WebfileDCID:             r.dc.id,
	}
	for _, d := range s.DCs() {
		host, port := splitHostPort(d.Addr)
		cfg.DCOptions = append(cfg.DCOptions, tg.DCOption{ID: d.ID, IPAddress: host, Port: port})
	}
	return cfg, nil
}

func splitHostPort(addr string) (string, int) {
	i := strings.LastIndexByte(addr, ':')
	var port int
	fmt.Sscan(addr[i+1:], &port)
	return addr[:i], port
}
