//! `update_plan`: the model's checklist, shown to users as a `todo_list` item.
//! The tool does nothing for the model itself; its arguments are the point.

use serde::Deserialize;
use serde_json::json;

use super::{ToolCall, ToolContext, ToolOutput};
use crate::protocol::{ItemDetails, ThreadItem, TodoItem, ToolSpec};

const PLAN_UPDATED: &str = "Plan updated";

pub fn spec() -> ToolSpec {
    ToolSpec::Function {
        name: "update_plan".into(),
        description: "Updates the task plan.\n\
            Provide an optional explanation and a list of plan items, each with a step and status.\n\
            At most one step can be in_progress at a time.\n"
            .into(),
        strict: false,
        parameters: json!({
            "type": "object",
            "properties": {
                "explanation": {"type": "string"},
                "plan": {
                    "type": "array",
                    "description": "The list of steps",
                    "items": {
                        "type": "object",
                        "properties": {
                            "step": {"type": "string"},
                            "status": {
                                "type": "string",
                                "description": "One of: pending, in_progress, completed",
                            },
                        },
                        "required": ["step", "status"],
                        "additionalProperties": false,
                    },
                },
            },
            "required": ["plan"],
            "additionalProperties": false,
        }),
    }
}

#[derive(Debug, Deserialize)]
struct UpdatePlanArgs {
    // Accepted for the model's benefit; items have no place for it.
    #[serde(default)]
    #[allow(dead_code)]
    explanation: Option<String>,
    plan: Vec<PlanStep>,
}

#[derive(Debug, Deserialize)]
struct PlanStep {
    step: String,
    status: StepStatus,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum StepStatus {
    Pending,
    InProgress,
    Completed,
}

/// Codex does not enforce "at most one in_progress" either: the rule is
/// guidance in the description, and a plan that breaks it is still shown.
pub async fn handle(ctx: &ToolContext, call: &ToolCall) -> ToolOutput {
    let args: UpdatePlanArgs = match call.parse_args() {
        Ok(args) => args,
        Err(out) => return out,
    };
    let items: Vec<TodoItem> = args
        .plan
        .into_iter()
        .map(|s| TodoItem {
            text: s.step,
            completed: s.status == StepStatus::Completed,
        })
        .collect();
    let details = ItemDetails::TodoList { items };

    // A poisoned lock only means another call panicked mid-update; the stored
    // item is still a whole value, so keep using it.
    let mut slot = ctx
        .plan_item
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match slot.as_mut() {
        Some(item) => {
            item.details = details.clone();
            ctx.events.updated(&item.id, details);
        }
        None => {
            let id = ctx.events.next_item_id();
            ctx.events.started(&id, details.clone());
            *slot = Some(ThreadItem { id, details });
        }
    }
    ToolOutput::success(PLAN_UPDATED)
}
