//! sea-orm entities. Tenant-owned tables are reached through the scoped finders in
//! `db::scoped`, never by a bare `find()` in a service.

pub mod ai_function;
pub mod ai_function_execution;
pub mod appointment;
pub mod automation_flow;
pub mod automation_integration;
pub mod automation_session;
pub mod automation_turn;
pub mod contact;
pub mod conversation;
pub mod conversation_tag;
pub mod external_function;
pub mod external_function_log;
pub mod instance;
pub mod instance_daily_stat;
pub mod instance_inbox_setting;
pub mod instance_node;
pub mod instance_token;
pub mod kanban_board;
pub mod kanban_column;
pub mod kanban_lead;
pub mod kanban_lead_activity;
pub mod media;
pub mod message;
pub mod message_reaction;
pub mod message_transcription;
pub mod node_event_cursor;
pub mod scheduled_job;
pub mod tag;
pub mod tenant;
pub mod user;
pub mod user_token;
pub mod webhook_attempt;
pub mod webhook_delivery;
pub mod webhook_endpoint;
