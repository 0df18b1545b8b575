//! The domain's rules, its invariants under generated commands, and its stored event fixtures, in
//! one test binary.

mod event_fixtures;
mod firm_rules;
mod invariants;
mod invite_rules;
mod team_rules;
