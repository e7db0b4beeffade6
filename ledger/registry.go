package ledger

// The transaction registry: the one place a transaction type is declared.
// Each entry binds a type name, its message struct and its handler; the
// decoder (newMsg), the list of types (TxTypes) and dispatch (handle) are all
// derived from it. def's type parameters tie the handler to the message
// struct, so an entry whose handler takes another message does not compile,
// and TestRegistry fails at once on a type name or message with no entry.
//
// Order matters only for TxTypes (and so the API's list of types): append new
// types at the end. Consensus never iterates the lookup map.
var registry = []txDef{
	def(TxCreateOrg, (*txCtx).createOrg),
	def(TxSetOrgAdmin, (*txCtx).setOrgAdmin),
	def(TxRegisterAccount, (*txCtx).registerAccount),
	def(TxTransfer, (*txCtx).transfer),
	def(TxRegisterDataset, (*txCtx).registerDataset),
	def(TxSetPolicy, (*txCtx).setPolicy),
	def(TxGiveConsent, (*txCtx).giveConsent),
	def(TxNarrowConsent, (*txCtx).narrowConsent),
	def(TxRevokeConsent, (*txCtx).revokeConsent),
	def(TxRequestAccess, (*txCtx).requestAccess),
	def(TxDecideAccess, (*txCtx).decideAccess),
	def(TxRegisterWorker, (*txCtx).registerWorker),
	def(TxSubmitJob, (*txCtx).submitJob),
	def(TxPostResult, (*txCtx).postResult),
	def(TxFailJob, (*txCtx).failJob),
	def(TxExpireJob, (*txCtx).expireJob),
	def(TxPostContribution, (*txCtx).postContribution),
	def(TxAdvanceStudy, (*txCtx).advanceStudy),
	def(TxRegisterModel, (*txCtx).registerModel),
	def(TxRecordPrediction, (*txCtx).recordPrediction),
	def(TxAttestPrediction, (*txCtx).attestPrediction),
	def(TxSetAttestationPolicy, (*txCtx).setAttestationPolicy),
	def(TxRegisterDevice, (*txCtx).registerDevice),
	def(TxSetDeviceStatus, (*txCtx).setDeviceStatus),
	def(TxAnchorReadings, (*txCtx).anchorReadings),
	def(TxShareRecord, (*txCtx).shareRecord),
	def(TxRevokeShare, (*txCtx).revokeShare),
	def(TxCloseShare, (*txCtx).closeShare),
	def(TxPostReceipts, (*txCtx).postReceipts),
	def(TxClaimReward, (*txCtx).claimReward),
	def(TxPostDeal, (*txCtx).postDeal),
	def(TxAcceptDeal, (*txCtx).acceptDeal),
	def(TxWithdrawAcceptance, (*txCtx).withdrawAcceptance),
	def(TxDeliverDealRows, (*txCtx).deliverDealRows),
	def(TxCloseDeal, (*txCtx).closeDeal),
	def(TxSetAccountStatus, (*txCtx).setAccountStatus),
	def(TxDeclineAcceptances, (*txCtx).declineAcceptances),
}

// txDef is one registered transaction type.
type txDef struct {
	typ    TxType
	new    func() Msg                             // a pointer to a zero message struct
	handle func(c *txCtx, m Msg) ([]Event, error) // m is what new returns, filled in
}

// def registers the transaction type typ, whose message struct is M and
// whose handler is h. M is inferred from h.
func def[M any, PM interface {
	*M
	Msg
}](typ TxType, h func(*txCtx, PM) ([]Event, error)) txDef {
	return txDef{
		typ: typ,
		new: func() Msg { return PM(new(M)) },
		handle: func(c *txCtx, m Msg) ([]Event, error) {
			pm, ok := m.(PM)
			if !ok {
				return nil, errf(CodeUnknownType, "no handler for %s", c.tx.Payload.Type)
			}
			return h(c, pm)
		},
	}
}

// registryByType indexes the registry for lookup only; nothing iterates it.
var registryByType = func() map[TxType]*txDef {
	byType := make(map[TxType]*txDef, len(registry))
	for i := range registry {
		d := &registry[i]
		if _, dup := byType[d.typ]; dup {
			panic("ledger: transaction type " + string(d.typ) + " registered twice")
		}
		byType[d.typ] = d
	}
	return byType
}()

// TxTypes lists every transaction type, in registry order.
var TxTypes = func() []TxType {
	ts := make([]TxType, len(registry))
	for i, d := range registry {
		ts[i] = d.typ
	}
	return ts
}()

// newMsg returns a pointer to the message struct of a type, or nil if the
// type is unknown.
func newMsg(t TxType) Msg {
	if d := registryByType[t]; d != nil {
		return d.new()
	}
	return nil
}

// NewMsg returns a pointer to a zero message struct of a type, or nil if the
// type is unknown. Encoders outside the ledger (the web app's message table)
// derive their field lists from it.
func NewMsg(t TxType) Msg { return newMsg(t) }

// handle applies the transaction in c with its type's handler.
func handle(c *txCtx) ([]Event, error) {
	if m := c.tx.Msg; m != nil {
		if d := registryByType[m.Type()]; d != nil {
			return d.handle(c, m)
		}
	}
	return nil, errf(CodeUnknownType, "no handler for %s", c.tx.Payload.Type)
}
