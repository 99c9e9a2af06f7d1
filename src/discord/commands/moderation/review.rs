//! `/coe-mod review`: pages of recent replies with Newer/Older buttons.
//! Only the moderator who opened the review can page it; the buttons are
//! disabled when the review stops listening, which it does shortly before
//! Discord's token for the command (15 minutes) can no longer edit it.

use super::embeds::{review_embeds, MAX_EMBEDS};
use super::guild;
use crate::discord::reply::no_mentions;
use crate::discord::{Context, Error};
use crate::store::InteractionRow;
use futures::{Stream, StreamExt};
use poise::serenity_prelude as serenity;
use poise::CreateReply;
use serenity::{
    ComponentInteraction, ComponentInteractionCollector, CreateActionRow, CreateButton,
    CreateEmbed, CreateInteractionResponse, CreateInteractionResponseFollowup,
    CreateInteractionResponseMessage, EditInteractionResponse,
};
use std::time::Duration;

const NOT_YOUR_REVIEW: &str = "Only the moderator who opened this review can page it.";
const PAGE_FAILED: &str =
    "I couldn't load that page just now. Please try again in a moment, or open a new review.";
/// How long Discord accepts an interaction's token, from the interaction's creation.
const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// Time left to disable the buttons before the token expires.
const CLOSING_MARGIN: Duration = Duration::from_secs(30);

/// Page through recent replies: therapy, emotion, strategy, redacted reasoning.
#[poise::command(slash_command, ephemeral)]
pub(super) async fn review(
    ctx: Context<'_>,
    #[description = "Replies per page (1-10)"]
    #[min = 1]
    #[max = 10]
    limit: Option<u32>,
) -> Result<(), Error> {
    let page_size = limit.unwrap_or(5).clamp(1, MAX_EMBEDS as u32);
    let rows = ctx
        .data()
        .pipeline
        .store()
        .recent_interactions(guild(ctx), page_size, None)
        .await?;
    let mut review = Review {
        id: ctx.id(),
        page_size,
        starts: vec![None],
        rows,
    };
    // Listening starts before the page is sent, so a click that follows
    // at once is not missed.
    let clicks = ComponentInteractionCollector::new(ctx)
        .filter({
            let prefix = review.button_prefix();
            move |click| click.data.custom_id.starts_with(&prefix)
        })
        .timeout(listening_time(ctx.created_at()))
        .stream();
    let handle = ctx.send(review.reply(true)).await?;
    review.answer_clicks(ctx, clicks).await;
    handle.edit(ctx, review.reply(false)).await?;
    Ok(())
}

/// What remains of the command's token, less the margin for the last edit.
fn listening_time(created: serenity::Timestamp) -> Duration {
    let age = (chrono::Utc::now() - *created)
        .to_std()
        .unwrap_or(Duration::ZERO);
    TOKEN_LIFETIME
        .saturating_sub(CLOSING_MARGIN)
        .saturating_sub(age)
}

struct Review {
    /// The command's interaction id, which makes the buttons' ids unique.
    id: u64,
    page_size: u32,
    /// The id each page starts before (`None`: the newest); the last one
    /// is the page shown.
    starts: Vec<Option<i64>>,
    rows: Vec<InteractionRow>,
}

impl Review {
    /// The trailing ':' keeps one review's ids from matching a longer one.
    fn button_prefix(&self) -> String {
        format!("{}:", self.id)
    }

    fn older_id(&self) -> String {
        format!("{}:older", self.id)
    }

    fn newer_id(&self) -> String {
        format!("{}:newer", self.id)
    }

    fn page(&self) -> (String, Vec<CreateEmbed>) {
        let heading = match (self.rows.first(), self.rows.last()) {
            (Some(newest), Some(oldest)) => format!(
                "Replies #{} to #{} (newest first). Reasoning is redacted; flag with `/coe-mod flag`.",
                oldest.id, newest.id
            ),
            _ => "No recorded replies here yet.".into(),
        };
        (heading, review_embeds(&self.rows))
    }

    /// The page as the command's reply; `open: false` disables the buttons.
    fn reply(&self, open: bool) -> CreateReply {
        let (heading, embeds) = self.page();
        let reply = CreateReply::default()
            .content(heading)
            .components(self.buttons(open));
        embeds.into_iter().fold(reply, CreateReply::embed)
    }

    /// The Newer/Older row; `open: false` disables both.
    fn buttons(&self, open: bool) -> Vec<CreateActionRow> {
        let first_page = self.starts.len() == 1;
        let last_page = self.rows.len() < self.page_size as usize;
        let buttons = vec![
            CreateButton::new(self.newer_id())
                .label("Newer")
                .disabled(!open || first_page),
            CreateButton::new(self.older_id())
                .label("Older")
                .disabled(!open || last_page),
        ];
        vec![CreateActionRow::Buttons(buttons)]
    }

    /// The page starts after the button `custom_id` is applied.
    fn turned(&self, custom_id: &str) -> Vec<Option<i64>> {
        let mut starts = self.starts.clone();
        if custom_id == self.older_id() {
            starts.push(self.rows.last().map(|r| r.id));
        } else if starts.len() > 1 {
            starts.pop();
        }
        starts
    }

    async fn answer_clicks(
        &mut self,
        ctx: Context<'_>,
        clicks: impl Stream<Item = ComponentInteraction>,
    ) {
        let mut clicks = std::pin::pin!(clicks);
        while let Some(click) = clicks.next().await {
            let answered = if click.user.id == ctx.author().id {
                self.turn_page(ctx, &click).await
            } else {
                let refusal = CreateInteractionResponseMessage::new()
                    .content(NOT_YOUR_REVIEW)
                    .ephemeral(true)
                    .allowed_mentions(no_mentions());
                let response = CreateInteractionResponse::Message(refusal);
                click.create_response(ctx, response).await
            };
            if let Err(error) = answered {
                tracing::warn!(%error, "could not answer a click on a review");
            }
        }
    }

    /// Acknowledges the click at once (the database may be slow), then
    /// shows the page, or says in words that it could not be loaded.
    async fn turn_page(
        &mut self,
        ctx: Context<'_>,
        click: &ComponentInteraction,
    ) -> Result<(), serenity::Error> {
        click.defer(ctx).await?;
        let starts = self.turned(&click.data.custom_id);
        let before = *starts.last().expect("the first page stays");
        let store = ctx.data().pipeline.store();
        match store
            .recent_interactions(guild(ctx), self.page_size, before)
            .await
        {
            Ok(rows) => {
                self.rows = rows;
                self.starts = starts;
                let (heading, embeds) = self.page();
                let update = EditInteractionResponse::new()
                    .content(heading)
                    .embeds(embeds)
                    .components(self.buttons(true))
                    .allowed_mentions(no_mentions());
                click.edit_response(ctx, update).await.map(drop)
            }
            Err(error) => {
                tracing::error!(%error, "could not load a review page");
                let apology = CreateInteractionResponseFollowup::new()
                    .content(PAGE_FAILED)
                    .ephemeral(true)
                    .allowed_mentions(no_mentions());
                click.create_followup(ctx, apology).await.map(drop)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_ends_before_the_token_expires() {
        let now = serenity::Timestamp::now();
        assert_eq!(listening_time(now).as_secs(), 14 * 60 + 29);
        let old = chrono::Utc::now() - chrono::Duration::seconds(14 * 60 + 20);
        assert_eq!(listening_time(old.into()).as_secs(), 9);
        let expired = chrono::Utc::now() - chrono::Duration::minutes(20);
        assert_eq!(listening_time(expired.into()), Duration::ZERO);
    }
}
