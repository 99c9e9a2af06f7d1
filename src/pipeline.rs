//! The one pipeline every front door (Discord, terminal) shares:
//! intake limits → crisis gate → chain → sanitize → record.

use crate::chain::{
    care_note, response_format, run_chain, Care, ChainError, Emotion, Strategy, Therapy, Turn,
};
use crate::config::Config;
use crate::llm::{Call, JsonMode, LlmClient, LlmError};
use crate::safety::conversation::{answer_to_check_in, safe_history};
use crate::safety::crisis_llm;
use crate::safety::gate::Gate;
use crate::safety::helplines::{concern_check_in, crisis_reply, mention_line};
use crate::safety::risk::{Risk, Tier};
use crate::safety::sanitize::{leaks_prompt, sanitize_reply};
use crate::store::anon::UserKeyer;
use crate::store::{NewInteraction, Outcome, Source, Store};
use crate::text::truncate_chars;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

/// Longest message the chain reads; the rest is cut with a note to the
/// member, so a wall of text neither fails nor silently loses its end.
pub const MAX_INPUT_CHARS: usize = 4_000;

pub const EMPTY_INPUT_REPLY: &str = "I'd like to understand what's on your mind, but I couldn't find any words in your message. Could you tell me, in a few words, how you're doing?";
pub const LLM_ERROR_REPLY: &str = "I'm really sorry: I can't reply properly right now because the service I rely on isn't responding. What you shared matters, so please try again in a little while, or reach out to someone you trust. If you are in danger, please contact your local emergency number or a crisis line.";
pub const PARSE_ERROR_REPLY: &str = "I'm sorry, I lost my words for a moment and couldn't put a proper reply together. What you shared matters to me. Would you tell me again, maybe in a different way?";
pub const PROMPT_LEAK_REPLY: &str = "I'm here to listen and support you, but I can't share how I'm set up. How are you feeling right now?";

/// Who wrote the message, only ever used to derive the anonymous key.
#[derive(Debug, Clone)]
pub enum Member {
    Discord(u64),
    Local(String),
}

#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub source: Source,
    pub guild_id: Option<u64>,
    pub member: Member,
    pub therapy: Therapy,
    pub message: &'a str,
    /// Earlier turns of this conversation, oldest first.
    pub history: &'a [Turn],
    /// False when the member opted out of recording.
    pub record: bool,
    /// Region whose helplines the crisis reply lists ("us", "uk", …).
    pub helpline_region: &'a str,
    /// The gate's verdict when the front door already asked for it (to
    /// decide rate limits); `None` lets the pipeline ask.
    pub risk: Option<Risk>,
}

/// What the member is told, and what was learned on the way.
#[derive(Debug, Clone)]
pub struct Response {
    pub outcome: Outcome,
    /// Sanitized text for the member (front doors add their footer).
    pub reply: String,
    pub therapy: Therapy,
    /// The gate's final verdict, the model screen included.
    pub risk: Risk,
    pub emotion: Option<Emotion>,
    pub reasoning: Vec<String>,
    pub strategy: Option<Strategy>,
    pub model: String,
    pub prompt_version: &'static str,
    pub latency_ms: u64,
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    /// The recorded row, when one was written.
    pub interaction_id: Option<i64>,
    /// Why the model could not be used, for operators (never shown to members).
    pub failure: Option<String>,
}

#[derive(Clone)]
pub struct Pipeline {
    llm: LlmClient,
    store: Store,
    keyer: Arc<UserKeyer>,
    gate: Gate,
    response_format: Option<Value>,
    json_mode: JsonMode,
    store_reasoning: bool,
    crisis_llm: bool,
}

impl Pipeline {
    pub fn new(config: &Config, llm: LlmClient, store: Store, gate: Gate) -> Pipeline {
        Pipeline {
            gate,
            response_format: response_format(config.llm.json_mode),
            json_mode: config.llm.json_mode,
            keyer: Arc::new(UserKeyer::new(config.hash_key.expose().as_bytes())),
            store_reasoning: config.store_reasoning,
            crisis_llm: config.crisis_llm,
            llm,
            store,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn llm(&self) -> &LlmClient {
        &self.llm
    }

    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// The anonymous key of a member: the only form in which a person is stored.
    pub fn user_key(&self, member: &Member) -> String {
        match member {
            Member::Discord(id) => self.keyer.key(*id),
            Member::Local(name) => self.keyer.key_str(name),
        }
    }

    /// The gate's verdict on a member's words (`known` when the front door
    /// already asked), raised when they answer the bot's own check-in: a
    /// short "yes" after "are you having thoughts of ending your life?".
    pub async fn member_risk(&self, text: &str, history: &[Turn], known: Option<Risk>) -> Risk {
        let risk = match known {
            Some(risk) => risk,
            None => self.gate.assess(text).await,
        };
        match answer_to_check_in(history, text) {
            Some(answer) => risk.max(answer),
            None => risk,
        }
    }

    /// The optional model screen (`COE_CRISIS_LLM`); tier `none` when off.
    pub async fn screen(&self, call: Call<'_>, text: &str) -> Risk {
        if self.crisis_llm {
            crisis_llm::screen(&self.llm, call, self.json_mode, text).await
        } else {
            Risk::default()
        }
    }

    /// The answer to one message (as [`Pipeline::respond_with`], with no
    /// one to tell when the model is busy).
    pub async fn respond(&self, request: &Request<'_>) -> Response {
        self.respond_with(request, None).await
    }

    /// The answer to one message; `on_busy` runs when the message has to
    /// wait in a long queue for the model (once per model call: the front
    /// door tells the member once).
    #[tracing::instrument(skip_all, fields(source = request.source.as_str(), therapy = %request.therapy))]
    pub async fn respond_with(
        &self,
        request: &Request<'_>,
        on_busy: Option<&(dyn Fn() + Sync)>,
    ) -> Response {
        let started = Instant::now();
        let therapy = request.therapy;
        let mut response = Response {
            outcome: Outcome::Replied,
            reply: String::new(),
            therapy,
            risk: Risk::default(),
            emotion: None,
            reasoning: Vec::new(),
            strategy: None,
            model: self.llm.config().model.clone(),
            prompt_version: therapy.prompt_version(),
            latency_ms: 0,
            prompt_tokens: None,
            completion_tokens: None,
            interaction_id: None,
            failure: None,
        };

        let text = request.message.trim();
        if text.is_empty() {
            response.outcome = Outcome::Refused;
            response.reply = EMPTY_INPUT_REPLY.into();
        } else {
            let risk = self.member_risk(text, request.history, request.risk).await;
            // One deadline for every model call this message makes.
            let call = Call {
                urgent: false,
                on_busy,
                deadline: Some(tokio::time::Instant::now() + self.llm.config().deadline),
            };
            self.answer_by_tier(&mut response, request, text, risk, call)
                .await;
        }
        response.latency_ms = started.elapsed().as_millis() as u64;
        crate::telemetry::message_handled(request.source.as_str(), response.outcome.as_str());
        if request.record {
            response.interaction_id = self.record(request, &response).await;
        }
        response
    }

    /// What each tier gets: `crisis` the fixed reply and no model at all;
    /// `concern` the model's reply written with extra care, then the fixed
    /// check-in (the check-in alone when the model has no free place: a
    /// person who may be at risk does not wait in line); `mention` the
    /// model's reply and a support line.
    async fn answer_by_tier(
        &self,
        response: &mut Response,
        request: &Request<'_>,
        text: &str,
        risk: Risk,
        call: Call<'_>,
    ) {
        if risk.tier == Tier::Crisis {
            return self.answer_crisis(response, request, risk);
        }
        let (message, truncated) = truncate_chars(text, MAX_INPUT_CHARS);
        let care = if risk.tier == Tier::Concern {
            Care::Heightened
        } else {
            Care::Usual
        };
        let call = Call {
            urgent: care == Care::Heightened,
            ..call
        };
        // The screen runs beside the chain, so it costs no latency.
        let (screened, ()) = tokio::join!(
            self.screen(call, message),
            self.run_chain_into(response, request, call, care, message)
        );
        let risk = risk.max(screened);
        if risk.tier == Tier::Crisis {
            // Nothing the model wrote about this message is kept or shown.
            response.emotion = None;
            response.reasoning.clear();
            response.strategy = None;
            return self.answer_crisis(response, request, risk);
        }
        response.risk = risk;
        if truncated && response.outcome == Outcome::Replied {
            response.reply.push_str(&format!(
                "\n\n(Your message was long, so I read the first {MAX_INPUT_CHARS} characters.)"
            ));
        }
        let region = request.helpline_region;
        match risk.tier {
            Tier::Concern => {
                push_paragraph(&mut response.reply, &concern_check_in(risk.kind, region))
            }
            Tier::Mention => push_paragraph(&mut response.reply, &mention_line(region)),
            Tier::None | Tier::Crisis => {}
        }
    }

    /// The gate comes before any model text: a person at risk gets the
    /// reviewed reply and helplines, never improvised words.
    fn answer_crisis(&self, response: &mut Response, request: &Request<'_>, risk: Risk) {
        tracing::warn!(
            kind = risk.kind.as_str(),
            layer = risk.layer.map(|l| l.as_str()),
            rule = risk.rule_id,
            score = risk.score,
            "crisis gate triggered"
        );
        response.outcome = Outcome::Crisis;
        response.risk = risk;
        response.reply = crisis_reply(risk.kind, request.helpline_region);
    }

    async fn run_chain_into(
        &self,
        response: &mut Response,
        request: &Request<'_>,
        call: Call<'_>,
        care: Care,
        message: &str,
    ) {
        let therapy = request.therapy;
        let history = safe_history(request.history);
        let run = run_chain(
            &self.llm,
            call,
            self.response_format.as_ref(),
            therapy,
            care,
            &history,
            message,
        )
        .await;
        response.model = run.model;
        response.prompt_tokens = run.prompt_tokens;
        response.completion_tokens = run.completion_tokens;
        match run.result {
            Ok(output) => {
                let reply = sanitize_reply(&output.reply);
                let leaked = leaks_prompt(&reply, therapy.system_prompt())
                    || care_note(care).is_some_and(|note| leaks_prompt(&reply, note));
                if leaked {
                    tracing::warn!("model reply reproduced the system prompt; withheld");
                    response.outcome = Outcome::Refused;
                    response.reply = PROMPT_LEAK_REPLY.into();
                } else if reply.is_empty() {
                    response.outcome = Outcome::ParseError;
                    response.reply = PARSE_ERROR_REPLY.into();
                } else {
                    response.reply = reply;
                }
                response.emotion = output.emotion;
                response.reasoning = output.reasoning;
                response.strategy = output.strategy;
            }
            Err(ChainError::Llm(LlmError::Busy)) => {
                // Urgent and no free place: the tier's fixed text alone.
                tracing::info!("model busy; answering a concern with the check-in alone");
            }
            Err(ChainError::Llm(error)) => {
                tracing::error!(%error, "LLM unavailable; sending apology");
                response.failure = Some(error.to_string());
                response.outcome = Outcome::LlmError;
                response.reply = LLM_ERROR_REPLY.into();
            }
            Err(ChainError::Parse(error)) => {
                response.failure = Some(error.to_string());
                response.outcome = Outcome::ParseError;
                response.reply = PARSE_ERROR_REPLY.into();
            }
        }
    }

    /// Writes the anonymized row. A storage failure is logged, never shown
    /// to the member: they still get their reply. The store refuses the
    /// row of a member who opted out or asked to be forgotten while the
    /// model was still working on their message.
    async fn record(&self, request: &Request<'_>, response: &Response) -> Option<i64> {
        // `latency_ms` is rounded down: one millisecond more puts the start
        // at or before the message's arrival, never after a forget.
        let started_at =
            chrono::Utc::now() - chrono::TimeDelta::milliseconds(response.latency_ms as i64 + 1);
        let user_key = self.user_key(&request.member);
        let keep_reasoning =
            self.store_reasoning && request.therapy.reasons() && !response.reasoning.is_empty();
        let row = NewInteraction {
            started_at,
            guild_id: request.guild_id,
            source: request.source,
            user_key,
            therapy: request.therapy,
            prompt_version: response.prompt_version.to_string(),
            model: response.model.clone(),
            emotion: response.emotion.clone(),
            strategy: response.strategy,
            reasoning: keep_reasoning.then(|| response.reasoning.clone()),
            outcome: response.outcome,
            risk: response.risk,
            latency_ms: response.latency_ms,
            prompt_tokens: response.prompt_tokens,
            completion_tokens: response.completion_tokens,
        };
        match self.store.record_interaction(&row).await {
            Ok(id) => id,
            Err(error) => {
                tracing::error!(%error, "could not record interaction");
                None
            }
        }
    }
}

/// The reply a tier gets without the model, for when the model cannot be
/// used (shutdown): a crisis its fixed reply, a concern the check-in alone.
pub fn fixed_reply(risk: &Risk, helpline_region: &str) -> Option<String> {
    match risk.tier {
        Tier::Crisis => Some(crisis_reply(risk.kind, helpline_region)),
        Tier::Concern => Some(concern_check_in(risk.kind, helpline_region)),
        Tier::Mention | Tier::None => None,
    }
}

fn push_paragraph(reply: &mut String, paragraph: &str) {
    if !reply.is_empty() {
        reply.push_str("\n\n");
    }
    reply.push_str(paragraph);
}
