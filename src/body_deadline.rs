//! The request-body deadline: a body must arrive within `BODY_READ_TIMEOUT` of its headers, and
//! a body left unread does not keep its connection open.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::ResponseError;
use actix_web::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::rt::time::{Sleep, sleep};
use actix_web::web::Bytes;
use futures_util::Stream;

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    Reading,
    Complete,
    TimedOut,
}

struct State {
    payload: Payload,
    deadline: Pin<Box<Sleep>>,
    progress: Progress,
}

/// One request's body under a deadline. The middleware keeps this handle; the handler reads the
/// body through [`Body::stream`]. Both share the client's payload, so it outlives the handler
/// when the handler does not read it to the end (see [`Body::finish`]).
#[derive(Clone)]
pub struct Body(Rc<RefCell<State>>);

impl Body {
    /// The deadline runs from now: the middleware starts it as soon as the headers are in.
    pub fn new(payload: Payload, timeout: Duration) -> Body {
        Body(Rc::new(RefCell::new(State { payload, deadline: Box::pin(sleep(timeout)), progress: Progress::Reading })))
    }

    /// The body as the handler reads it: the client's bytes until the deadline, then an error.
    pub fn stream(&self) -> Payload {
        Payload::Stream { payload: Box::pin(Deadline(self.0.clone())) }
    }

    pub fn timed_out(&self) -> bool {
        self.0.borrow().progress == Progress::TimedOut
    }

    fn complete(&self) -> bool {
        self.0.borrow().progress == Progress::Complete
    }

    /// What the client gets once the handler answered.
    ///
    /// Reliability: when the deadline passed, the answer is `408 REQUEST_TIMEOUT` with
    /// `Connection: close`, whatever the handler's extractor made of the error. When the body was
    /// not read to its end (a route that ignores bodies, a rejection before reading, a refused
    /// connection), the payload is kept alive until the response is written: actix-http then
    /// sees an unfinished body and closes the connection after the response. Dropped instead, a
    /// chunked body would be drained for as long as the client cares to trickle it, with no
    /// timer running: the stall this module exists to end.
    pub fn finish<B: MessageBody + 'static>(self, res: ServiceResponse<B>) -> ServiceResponse<EitherBody<B>> {
        if self.complete() {
            return res.map_into_left_body();
        }
        let res = if self.timed_out() {
            let (req, _) = res.into_parts();
            ServiceResponse::new(req, ApiError::RequestTimeout.error_response())
        } else {
            res.map_into_boxed_body()
        };
        res.map_body(|_, body| BoxBody::new(KeepUnread { body, _payload: self })).map_into_right_body()
    }
}

/// The handler's view of a [`Body`].
struct Deadline(Rc<RefCell<State>>);

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut state = self.0.borrow_mut();
        let state = &mut *state;
        match state.progress {
            Progress::Complete => return Poll::Ready(None),
            Progress::TimedOut => return Poll::Ready(Some(Err(timed_out()))),
            Progress::Reading => {}
        }
        match Pin::new(&mut state.payload).poll_next(cx) {
            Poll::Ready(None) => {
                state.progress = Progress::Complete;
                Poll::Ready(None)
            }
            Poll::Ready(Some(item)) => Poll::Ready(Some(item)),
            Poll::Pending => match state.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    state.progress = Progress::TimedOut;
                    Poll::Ready(Some(Err(timed_out())))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

/// The error the handler's extractor sees; `routes::json_config` maps it to `REQUEST_TIMEOUT`.
fn timed_out() -> PayloadError {
    PayloadError::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, "the request body did not arrive in time"))
}

/// Whether an extractor's payload error is the deadline's.
pub fn is_timeout(e: &PayloadError) -> bool {
    matches!(e, PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut)
}

/// A response body that holds the request's unread payload until the response is written.
struct KeepUnread {
    body: BoxBody,
    _payload: Body,
}

impl MessageBody for KeepUnread {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.body).poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::HttpResponse;
    use actix_web::test::TestRequest;
    use futures_util::StreamExt as _;

    /// A payload whose first chunk arrives and whose rest never does, like a stalled client's.
    fn stalled() -> Payload {
        let chunk = futures_util::stream::once(std::future::ready(Ok(Bytes::from_static(b"{\"user"))));
        Payload::Stream { payload: Box::pin(chunk.chain(futures_util::stream::pending())) }
    }

    #[actix_web::test]
    async fn a_stalled_body_yields_its_bytes_then_a_timeout() {
        let body = Body::new(stalled(), Duration::from_millis(50));
        let mut stream = body.stream();
        assert_eq!(stream.next().await.unwrap().unwrap(), Bytes::from_static(b"{\"user"));
        let err = stream.next().await.unwrap().unwrap_err();
        assert!(is_timeout(&err), "{err:?}");
        assert!(body.timed_out());
        let res = body.finish(TestRequest::default().to_srv_response(HttpResponse::BadRequest().finish()));
        assert_eq!(res.status(), 408);
        assert_eq!(res.response().head().connection_type(), actix_web::http::ConnectionType::Close);
    }

    #[actix_web::test]
    async fn a_complete_body_passes_unchanged() {
        let body = Body::new(Payload::from(Bytes::from_static(b"{}")), Duration::from_millis(50));
        let bytes: Vec<_> = body.stream().collect().await;
        assert_eq!(bytes.len(), 1);
        assert!(!body.timed_out());
        let res = body.finish(TestRequest::default().to_srv_response(HttpResponse::Ok().finish()));
        assert_eq!(res.status(), 200);
        assert!(matches!(res.into_body(), EitherBody::Left { .. }), "a fully read body needs nothing kept");
    }
}
