//! The policy file as the vendor's parser reads it (`heso==0.5.1`): the same
//! field names, types, required fields (reported in the same order) and
//! enum spellings, so a policy one side refuses the other refuses with the
//! same words. Keys the vendor ignores are ignored here too.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Deserialize)]
pub struct PolicyFile {
    #[serde(default)]
    pub rule: Vec<PolicyRule>,
}

/// One `[[rule]]`. Declaration order is the order the vendor reports
/// missing fields in.
#[derive(Debug, Clone, Deserialize)]
pub struct PolicyRule {
    pub id: toml::Spanned<String>,
    pub order: i64,
    pub enabled: bool,
    pub subject: RuleSubject,
    pub verb: VerbMatch,
    /// `"*"` or `""`: any target. Otherwise a host suffix: `example.com`
    /// (or `*.example.com`) matches `example.com` and `api.example.com`.
    pub scope: String,
    pub decision: RuleDecision,
    #[serde(default)]
    pub conditions: Vec<RuleCondition>,
    /// Approver group names; none means every confirmed approver.
    #[serde(default)]
    pub approvers: Vec<String>,
    #[serde(default)]
    pub sla_minutes: Option<u32>,
    /// This control plane's extension: the least number of approvers. The
    /// vendor ignores the key, so any value parses here too; routing reads
    /// it through `PolicyRule::min_threshold`, and `policy set` checks it.
    #[serde(default)]
    pub threshold: Option<toml::Value>,
}

impl PolicyRule {
    /// The rule's `threshold`: `None` when absent, an error for anything but
    /// a whole number from 1 to `max`.
    pub fn min_threshold(&self, max: u32) -> Result<Option<u32>, String> {
        match &self.threshold {
            None => Ok(None),
            Some(toml::Value::Integer(k)) if (1..=i64::from(max)).contains(k) => {
                Ok(Some(*k as u32))
            }
            Some(other) => Err(format!(
                "rule `{}`: threshold must be a whole number from 1 to {max}, not {other}",
                self.id.get_ref()
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RuleSubject {
    Any,
    Workflow { value: String },
    Account { value: String },
}

/// `"any"`, or one verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum VerbMatch {
    Any(AnyVerb),
    One(heso_receipt::Verb),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum AnyVerb {
    #[serde(rename = "any")]
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleDecision {
    Allow,
    Block,
    Redact,
    RequireApproval,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RuleCondition {
    pub field: String,
    pub op: Op,
    pub value: Value,
    #[serde(default)]
    pub display: Option<String>,
}

/// The ten operators, in the vendor's declaration order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Gt,
    Lt,
    Eq,
    In,
    Exists,
    Matches,
    Gte,
    Lte,
    Neq,
    NotIn,
}
