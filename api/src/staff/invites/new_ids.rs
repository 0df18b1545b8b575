//! Ids and portal links for what a command creates.

use uuid::Uuid;

use crate::extract::RequestContext;
use crate::secrets;
use crate::state::AppState;

/// A portal link's address, from its token.
pub(super) fn portal_url(state: &AppState, token: &str) -> String {
    format!("{}/p/{token}", state.settings.public_url)
}

/// Ids and portal links for what a command creates. Links are always derived from the command id
/// under the server's secret (docs/decisions/0011). Ids are fresh UUIDv7s, unless the request carries
/// an Idempotency-Key: then they are derived from the command id too, so that a retry decides
/// exactly what the first request did and answers with the same ids.
pub(super) struct NewIds<'a> {
    state: &'a AppState,
    command_id: Uuid,
    idempotent: bool,
}

impl<'a> NewIds<'a> {
    pub fn new(state: &'a AppState, context: &RequestContext, command_id: Uuid) -> Self {
        Self {
            state,
            command_id,
            idempotent: context.idempotency_key.is_some(),
        }
    }

    pub fn id(&self, kind: &str, index: usize) -> Uuid {
        if self.idempotent {
            Uuid::new_v5(&self.command_id, format!("{kind}:{index}").as_bytes())
        } else {
            Uuid::now_v7()
        }
    }

    pub fn salt(&self) -> Option<[u8; 16]> {
        self.idempotent.then(|| {
            let (derived, _) =
                secrets::derived_token(&self.state.settings.secret_key, "password-salt", self.command_id, 0);
            let bytes = hex::decode(&derived[..32]).expect("a derived token is hex");
            bytes.try_into().expect("16 bytes")
        })
    }

    pub fn link(&self, index: usize) -> (String, lodge_domain::digest::TokenHash) {
        secrets::portal_link_token(&self.state.settings.secret_key, self.command_id, index)
    }
}
