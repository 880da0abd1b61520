package storage

import "github.com/opstream/opstream/pluginsdk/storage/internal/storagepb"

// Conversions between the public types and their wire messages.

func keyToPB(k DocKey) *storagepb.DocKey { return &storagepb.DocKey{Tenant: k.Tenant, Id: k.ID} }

func keyFromPB(k *storagepb.DocKey) DocKey {
	return DocKey{Tenant: k.GetTenant(), ID: k.GetId()}
}

func opsToPB(ops []Op) []*storagepb.Op {
	out := make([]*storagepb.Op, len(ops))
	for i, o := range ops {
		out[i] = &storagepb.Op{
			Revision:   o.Revision,
			ClientId:   o.ClientID,
			Seq:        o.Seq,
			Data:       o.Data,
			UnixMillis: o.UnixMillis,
		}
	}
	return out
}

func opsFromPB(ops []*storagepb.Op) []Op {
	out := make([]Op, len(ops))
	for i, o := range ops {
		out[i] = Op{
			Revision:   o.GetRevision(),
			ClientID:   o.GetClientId(),
			Seq:        o.GetSeq(),
			Data:       o.GetData(),
			UnixMillis: o.GetUnixMillis(),
		}
	}
	return out
}

func snapshotToPB(s *Snapshot) *storagepb.Snapshot {
	if s == nil {
		return nil
	}
	return &storagepb.Snapshot{
		Revision:   s.Revision,
		Type:       s.Type,
		Data:       s.Data,
		Meta:       s.Meta,
		UnixMillis: s.UnixMillis,
	}
}

func snapshotFromPB(s *storagepb.Snapshot) *Snapshot {
	if s == nil {
		return nil
	}
	return &Snapshot{
		Revision:   s.GetRevision(),
		Type:       s.GetType(),
		Data:       s.GetData(),
		Meta:       s.GetMeta(),
		UnixMillis: s.GetUnixMillis(),
	}
}

func infoToPB(d DocInfo) *storagepb.DocInfo {
	return &storagepb.DocInfo{
		Doc:              keyToPB(d.Doc),
		Type:             d.Type,
		Revision:         d.Revision,
		Epoch:            d.Epoch,
		SnapshotRevision: d.SnapshotRevision,
	}
}

func infoFromPB(d *storagepb.DocInfo) DocInfo {
	return DocInfo{
		Doc:              keyFromPB(d.GetDoc()),
		Type:             d.GetType(),
		Revision:         d.GetRevision(),
		Epoch:            d.GetEpoch(),
		SnapshotRevision: d.GetSnapshotRevision(),
	}
}

func appendsToPB(as []Append) []*storagepb.Append {
	out := make([]*storagepb.Append, len(as))
	for i, a := range as {
		out[i] = &storagepb.Append{
			Doc:              keyToPB(a.Doc),
			Type:             a.Type,
			ExpectedRevision: a.ExpectedRevision,
			Epoch:            a.Epoch,
			Ops:              opsToPB(a.Ops),
		}
	}
	return out
}

func appendsFromPB(as []*storagepb.Append) []Append {
	out := make([]Append, len(as))
	for i, a := range as {
		out[i] = Append{
			Doc:              keyFromPB(a.GetDoc()),
			Type:             a.GetType(),
			ExpectedRevision: a.GetExpectedRevision(),
			Epoch:            a.GetEpoch(),
			Ops:              opsFromPB(a.GetOps()),
		}
	}
	return out
}
