//! The portal as served: the stored view, with what depends on the moment of reading (days until
//! due) and on the deployment (the firm's details) added. Staff and contacts get the same shape.

use chrono::NaiveDate;
use lodge_domain::{ContactId, InviteId};
use lodge_projections::portal::{
    InviteStatus, PortalContact, PortalMessage, PortalRequest, PortalSender, PortalView, Totals,
};
use serde::{Deserialize, Serialize};

use crate::settings::Firm;

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PortalResponse {
    pub invite: PortalInviteSummary,
    pub contact: PortalContact,
    pub firm: serde_json::Value,
    pub sender: PortalSender,
    pub totals: Totals,
    pub requests: Vec<PortalRequest>,
    pub messages: Vec<PortalMessage>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PortalInviteSummary {
    pub id: InviteId,
    pub title: String,
    pub message: Option<String>,
    pub status: InviteStatus,
    pub due_date: Option<NaiveDate>,
    /// Negative when overdue; counted in the firm's time zone.
    pub days_until_due: Option<i64>,
    pub password_protected: bool,
}

impl PortalResponse {
    pub fn new(view: &PortalView, firm: &Firm) -> Self {
        let today = chrono::Utc::now().with_timezone(&firm.time_zone).date_naive();
        let days_until_due = view.days_until_due(today);
        Self {
            invite: PortalInviteSummary {
                id: view.invite.id,
                title: view.invite.title.clone(),
                message: view.invite.message.clone(),
                status: view.invite.status,
                due_date: view.invite.due_on,
                days_until_due,
                password_protected: view.invite.password_protected,
            },
            contact: view.contact.clone(),
            firm: firm_json(firm),
            sender: view.sender.clone(),
            totals: view.totals,
            requests: view.requests.clone(),
            messages: view.messages.clone(),
        }
    }

    pub fn contact_id(&self) -> ContactId {
        self.contact.id
    }
}

fn firm_json(firm: &Firm) -> serde_json::Value {
    serde_json::to_value(firm).expect("the firm's details serialise")
}
