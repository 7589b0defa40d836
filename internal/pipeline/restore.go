package pipeline

import "context"

// A partition's state is built in the background when it is assigned, so
// that each partition is fetched and committed as soon as its own state is
// ready instead of all of them waiting for the slowest: restoring a large
// checkpoint takes about a second, and a restarted processor should commit
// again within seconds. Until then the partition's fetching is paused
// (paused partitions are neither fetched nor returned by a poll; franz-go
// keeps their position), so no record is processed without its state.

// restore is a partition whose state is being built.
type restore struct {
	pos    int64      // stored next offset; -1 when nothing is stored
	lost   *lostRange // a range retention deleted before it was stored
	cancel context.CancelFunc
}

// startRestores builds the states of parts in the background,
// Config.Restores at once, and hands each partition to the poll loop as
// soon as its state is ready. Called with p.mu held, after each part's
// restore was registered in p.restoring.
func (p *Processor) startRestores(parts []int32) {
	if len(parts) == 0 {
		return
	}
	if cl := p.kcl.Load(); cl != nil {
		// Already paused by the assignment callback, except a partition
		// whose offset fetch was retried in a later session.
		cl.PauseFetchPartitions(map[string][]int32{p.cfg.Topic: parts})
	}
	for _, part := range parts {
		r := p.restoring[part]
		ctx, cancel := context.WithCancel(p.runCtx)
		r.cancel = cancel
		p.restores.Go(func() {
			defer cancel()
			select {
			case p.restoreSem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			ps := p.newPartState(ctx, part, r.pos)
			<-p.restoreSem
			p.restored(ctx, part, r, ps)
		})
	}
}

// restored hands a built state to the poll loop, unless the partition was
// given up (or assigned anew) while it was built.
func (p *Processor) restored(ctx context.Context, part int32, r *restore, ps *partState) {
	p.mu.Lock()
	if p.restoring[part] != r || ctx.Err() != nil {
		p.mu.Unlock()
		return
	}
	delete(p.restoring, part)
	ps.lost = r.lost
	p.parts[part] = ps
	p.mu.Unlock()
	if cl := p.kcl.Load(); cl != nil {
		cl.ResumeFetchPartitions(map[string][]int32{p.cfg.Topic: {part}})
	}
	select {
	case p.wake <- struct{}{}: // a poll waiting on the other partitions returns
	default:
	}
}

// cancelRestore stops building a partition's state and lets it be fetched
// again when it is next assigned. Called with p.mu held.
func (p *Processor) cancelRestore(part int32) {
	r, ok := p.restoring[part]
	if !ok {
		return
	}
	delete(p.restoring, part)
	if r.cancel != nil {
		r.cancel()
	}
	if cl := p.kcl.Load(); cl != nil {
		cl.ResumeFetchPartitions(map[string][]int32{p.cfg.Topic: {part}})
	}
}
