//! `GET /staff/live`: server-sent events telling a console page that an invite it shows changed
//! (`changed`, with the position to read after), or that it fell behind and should reload
//! (`reload`). The page fetches itself again with `?after=` and swaps the parts that changed; without
//! JavaScript, a reload shows the same. A stream ends after [`LIFETIME`] (the browser reconnects,
//! signed in or not) and when the server stops.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use lodge_domain::InviteId;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use crate::console::ConsoleMember;
use crate::extract::QueryParams;
use crate::state::AppState;

/// How long one stream lasts before the browser opens another (and its session is checked again).
const LIFETIME: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LiveQuery {
    /// Only this invite's changes (its page); without, every invite's (the dashboard).
    invite: Option<InviteId>,
}

pub(super) async fn live(
    State(state): State<AppState>,
    _member: ConsoleMember,
    QueryParams(query): QueryParams<LiveQuery>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = state.live.listen();
    let ends = tokio::time::Instant::now() + LIFETIME;
    let stopping = state.stopping.clone();
    let stream = futures_util::stream::unfold(receiver, move |mut receiver| {
        let stopping = stopping.clone();
        async move {
            loop {
                let change = tokio::select! {
                    _ = stopping.cancelled() => return None,
                    _ = tokio::time::sleep_until(ends) => return None,
                    change = receiver.recv() => change,
                };
                match change {
                    Ok(change) if query.invite.is_none_or(|invite| invite == change.invite) => {
                        let event = Event::default().event("changed").data(change.position.to_string());
                        return Some((Ok(event), receiver));
                    }
                    Ok(_) => continue,
                    Err(RecvError::Lagged(_)) => {
                        return Some((Ok(Event::default().event("reload").data("")), receiver));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
