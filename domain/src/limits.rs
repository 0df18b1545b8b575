//! The product's limits, in one place so that the API and the docs can quote them.

pub const MAX_CONTACTS: usize = 50;
pub const MAX_REQUESTS: usize = 100;
pub const MAX_FILES_PER_REQUEST: u32 = 100;
pub const DEFAULT_FILES_PER_REQUEST: u32 = 10;
pub const MAX_ALLOWED_TYPES: usize = 50;
pub const MAX_FORM_FIELDS: usize = 100;
pub const MAX_CHOICES: usize = 100;

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 5_000;
pub const MAX_MESSAGE_CHARS: usize = 10_000;
pub const MAX_REASON_CHARS: usize = 2_000;
pub const MAX_ANSWER_CHARS: usize = 10_000;
pub const MAX_FILE_NAME_CHARS: usize = 255;
pub const MAX_FIELD_NAME_CHARS: usize = 64;
pub const MAX_USER_AGENT_CHARS: usize = 512;
pub const MAX_BLOB_KEY_CHARS: usize = 512;
