//! Every stream read, rendered and handed to the loader a page at a time, the three overlapping.

use lodge_eventlog::{Engine, EventLog, RecordedEvent, StreamId};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{PAGE_EVENTS, unreadable};
use crate::error::ProjectionError;
use crate::history::InviteHistory;
use crate::load::Load;
use crate::projection::{DynProjection, Generation};

/// Whole streams read in one go.
struct Read {
    streams: Vec<Vec<RecordedEvent>>,
    last_stream: StreamId,
}

/// Their rows for every target, ready to load.
pub(super) struct Page {
    pub loads: Vec<Load>,
    pub last_stream: StreamId,
    pub streams: u64,
    pub events: u64,
}

/// The streams after `after`, whole, about a page of events of them; None when there are no more.
async fn read_page(log: &EventLog, after: Option<&StreamId>) -> Result<Option<Read>, ProjectionError> {
    let read = log.read_by_stream(after, PAGE_EVENTS).await?;
    if read.is_empty() {
        return Ok(None);
    }
    let full = read.len() == PAGE_EVENTS;
    let mut streams: Vec<Vec<RecordedEvent>> = Vec::new();
    for event in read {
        match streams.last_mut() {
            Some(stream) if stream[0].stream_id == event.stream_id => stream.push(event),
            _ => streams.push(vec![event]),
        }
    }
    if full {
        if streams.len() > 1 {
            // The last stream may be cut short: the next page starts with it.
            streams.pop();
        } else {
            // One stream longer than a page: read it whole.
            let id = streams[0][0].stream_id.clone();
            streams[0] = log.read_stream(&id).await?;
        }
    }
    let last_stream = streams.last().expect("at least one stream")[0].stream_id.clone();
    Ok(Some(Read { streams, last_stream }))
}

/// Decodes and renders a page's streams into rows for every target.
fn render_page(
    read: Read,
    engine: Engine,
    targets: &[(&'static dyn DynProjection, Generation)],
) -> Result<Page, ProjectionError> {
    let mut page = Page {
        loads: Vec::new(),
        last_stream: read.last_stream,
        streams: 0,
        events: 0,
    };
    let mut histories = Vec::with_capacity(read.streams.len());
    for stream in read.streams {
        page.events += stream.len() as u64;
        if let Some(invite) = stream[0].stream_id.invite_id() {
            histories.push(InviteHistory::decode(invite, &stream).map_err(unreadable)?);
            page.streams += 1;
        }
    }
    for (projection, generation) in targets {
        page.loads
            .extend(projection.loads_dyn(engine, *generation, &histories)?);
    }
    Ok(page)
}

/// Reading, rendering and loading pages overlap: while one page is loaded, the next is rendered
/// and the one after read, each stage a page ahead of the next at most. The stages hand pages on
/// through channels; a stage that fails sends its error on, and a stage whose consumer has gone
/// (an interrupted rebuild) stops.
pub(super) struct Pipeline {
    pages: mpsc::Receiver<Result<Page, ProjectionError>>,
    reader: JoinHandle<()>,
    renderer: JoinHandle<()>,
}

impl Pipeline {
    pub fn start(
        log: EventLog,
        after: Option<StreamId>,
        engine: Engine,
        targets: Vec<(&'static dyn DynProjection, Generation)>,
    ) -> Self {
        let (reads_sent, mut reads) = mpsc::channel(1);
        let reader = tokio::spawn(async move {
            let mut after = after;
            loop {
                let read = read_page(&log, after.as_ref()).await;
                let (next, last) = match read {
                    Ok(Some(read)) => (Some(read.last_stream.clone()), Ok(read)),
                    Ok(None) => return,
                    Err(error) => (None, Err(error)),
                };
                if reads_sent.send(last).await.is_err() || next.is_none() {
                    return;
                }
                after = next;
            }
        });
        let (pages_sent, pages) = mpsc::channel(1);
        // Decoding and rendering are CPU work: a thread of their own, off the async workers.
        let renderer = tokio::task::spawn_blocking(move || {
            while let Some(read) = reads.blocking_recv() {
                let page = read.and_then(|read| render_page(read, engine, &targets));
                let failed = page.is_err();
                if pages_sent.blocking_send(page).is_err() || failed {
                    return;
                }
            }
        });
        Self {
            pages,
            reader,
            renderer,
        }
    }

    /// The next page, or None after the last.
    pub async fn next(&mut self) -> Result<Option<Page>, ProjectionError> {
        if let Some(page) = self.pages.recv().await {
            return page.map(Some);
        }
        // No more pages: because the log has none, or because a stage died.
        for stage in [&mut self.reader, &mut self.renderer] {
            stage.await?;
        }
        Ok(None)
    }

    pub fn stop(self) {
        self.reader.abort();
    }
}
