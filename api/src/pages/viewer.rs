//! Who is looking at a portal page: the contact (signed in by their link, perhaps still before the
//! password), or a staff member through a view link, read-only.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;
use lodge_eventlog::Position;

use crate::error::ApiError;
use crate::own_writes::Writer;
use crate::portal::contact;
use crate::portal::session::{ContactSession, PendingContact};
use crate::portal::view::PortalResponse;
use crate::staff::invites;
use crate::staff::view_links::{self, StaffView};
use crate::state::AppState;

pub enum Viewer {
    Contact(ContactSession),
    Staff(StaffView),
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        if let Some(cookie) = jar.get(view_links::COOKIE)
            && let Some(view) = view_links::find(state, cookie.value()).await?
        {
            return Ok(Viewer::Staff(view));
        }
        let PendingContact(session) = PendingContact::from_request_parts(parts, state).await?;
        Ok(Viewer::Contact(session))
    }
}

impl Viewer {
    /// The portal as this viewer sees it, once it shows the write at `after`.
    pub async fn portal(&self, state: &AppState, after: Option<Position>) -> Result<PortalResponse, ApiError> {
        match self {
            Viewer::Contact(session) => contact::view(state, session.clone(), after).await,
            // The staff member who opened it reads their own writes: an invite sent a moment ago.
            Viewer::Staff(view) => {
                let maker = Writer::Staff(view.made_with);
                invites::portal(state, Some(&maker), view.invite_id, view.contact_id, after).await
            }
        }
    }

    /// A contact who has not given the portal's password yet.
    pub fn needs_password(&self) -> bool {
        matches!(self, Viewer::Contact(session) if !session.is_unlocked())
    }

    /// The banner over a staff member's view, saying whose portal it is.
    pub fn banner(&self, template: &str, contact_name: &str) -> Option<String> {
        match self {
            Viewer::Contact(_) => None,
            Viewer::Staff(view) => Some(
                template
                    .replace("{contact}", contact_name)
                    .replace("{staff}", &view.staff_name),
            ),
        }
    }

    pub fn read_only(&self) -> bool {
        matches!(self, Viewer::Staff(_))
    }
}
