//! AWS Lambda: `lambda_runtime` drives the router through the Runtime API, with lambda_http's
//! public conversion of each event into a request. The router sees each event with the event's
//! own path and the invocation's request id. Every event gets an answer: one `lambda_http`
//! cannot read or convert is refused with a 400 first (`lambda_event`), rather than handed to a
//! conversion that would abort the process.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::http;
use lambda_http::lambda_runtime::{LambdaInvocation, Runtime};
use lambda_http::{LambdaEvent, RequestExt as _, Service};
use serde_json::value::RawValue;
use tower::ServiceExt as _;

use super::lambda_event::{Answer, Event, defect};
use crate::aws::KeyRefresher;
use crate::http::HostRequestId;

/// Serves the Runtime API until it stops, or until SIGTERM (which Lambda sends only between
/// invocations, when the environment shuts down).
pub(super) async fn serve(
    router: Router,
    refresher: Option<Arc<KeyRefresher>>,
    ignore_stage_in_path: bool,
) -> ExitCode {
    // What start-up logged belongs to the init phase.
    super::logs::flush();
    // What lambda_runtime::run serves, with the key refresh around each invocation and
    // without its tracing span (our log lines print no spans; they carry the request id).
    let runtime = Runtime::new(lambda_http::service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        answer(router.clone(), event, ignore_stage_in_path)
    }))
    .layer(tower::layer::layer_fn(move |inner| RefreshAfterAnswer {
        inner,
        refresher: refresher.clone(),
    }))
    .run();
    tokio::select! {
        outcome = runtime => match outcome {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(%error, "the Lambda runtime stopped");
                ExitCode::FAILURE
            }
        },
        () = super::shutdown_signal() => ExitCode::SUCCESS,
    }
}

/// Lambda freezes the environment as soon as the runtime asks for the next event, so a refresh
/// left running would be frozen half-way (and time out when thawed). The first invocation
/// after the period starts one; the invocation is answered (its response posted to the
/// Runtime API) without waiting for it, and only then is the refresh awaited, before the next
/// event is asked for. Its reads are bounded (`aws::refresh`).
#[derive(Clone)]
struct RefreshAfterAnswer<S> {
    inner: S,
    refresher: Option<Arc<KeyRefresher>>,
}

impl<S> Service<LambdaInvocation> for RefreshAfterAnswer<S>
where
    S: Service<LambdaInvocation, Response = (), Error = lambda_http::Error>,
    S::Future: 'static,
{
    type Response = ();
    type Error = lambda_http::Error;
    type Future = Pin<Box<dyn Future<Output = Result<(), lambda_http::Error>>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, invocation: LambdaInvocation) -> Self::Future {
        let refresh = self.refresher.as_ref().and_then(KeyRefresher::start_if_stale);
        // Answers and posts the response.
        let answered = self.inner.call(invocation);
        Box::pin(async move {
            let outcome = answered.await;
            if let Some(refresh) = refresh {
                let _ = refresh.await;
            }
            outcome
        })
    }
}

/// Why an event is refused when `lambda_http` reads no HTTP event in it.
const NOT_HTTP: &str = "the event is not an HTTP request from API Gateway, a Function URL or a load balancer";

/// Reads the event as `lambda_http` does, refuses it if `lambda_http` could not read or convert
/// it, and otherwise converts it as `lambda_http::run` does (the request, the invocation's
/// context, its X-Ray trace header) and answers with the router.
async fn answer(
    router: Router,
    event: LambdaEvent<Box<RawValue>>,
    ignore_stage_in_path: bool,
) -> Result<Answer, Infallible> {
    let LambdaEvent { payload, context } = event;
    let refuse = |origin, reason: &'static str| {
        tracing::info!(request_id = %context.request_id, status = 400, reason, "event refused");
        // As for a served event: its lines are out before its answer is posted.
        super::logs::flush();
        Ok(Answer::refusal(origin, reason))
    };
    let Some(event) = Event::parse(payload.get()) else {
        return refuse(None, NOT_HTTP);
    };
    let origin = event.origin();
    if let Some(reason) = defect(&event, ignore_stage_in_path) {
        return refuse(Some(origin), reason);
    }
    drop(event);
    // lambda_http reads the event again, as the same form, and converts it.
    let Ok(mut request) = lambda_http::request::from_str(payload.get()) else {
        return refuse(Some(origin), NOT_HTTP);
    };
    // As lambda_http's adapter does (its `update_xray_trace_id_header`).
    let trace = context.xray_trace_id.as_deref();
    if let Some(trace) = trace.and_then(|trace| http::HeaderValue::from_str(trace).ok()) {
        request.headers_mut().insert("x-amzn-trace-id", trace);
    }
    let Ok(response) = router.oneshot(prepare(request.with_lambda_context(context))).await;
    // The body as lambda_http writes it: text, or base64 for binary content.
    let response = lambda_http::IntoResponse::into_response(response).await;
    // An invocation's lines reach standard output before its response is posted, so CloudWatch
    // ties them to the request.
    super::logs::flush();
    Ok(Answer::new(origin, response))
}

/// An event's request as the router sees it on Lambda: the event's own path, and the
/// invocation's request id for the log line.
pub fn prepare<B>(request: http::Request<B>) -> http::Request<B> {
    let mut request = on_raw_event_path(request);
    if let Some(context) = request.extensions().get::<lambda_http::Context>() {
        let id = HostRequestId(context.request_id.clone());
        request.extensions_mut().insert(id);
    }
    request
}

/// Routes on the path of the event itself: `lambda_http` puts the API Gateway stage in front of
/// it (`/prod/api/chat/negotiate` for a REST API stage `prod`), which would move the routes
/// with every stage name.
fn on_raw_event_path<B>(mut request: http::Request<B>) -> http::Request<B> {
    let raw = request.raw_http_path();
    if raw.is_empty() || raw == request.uri().path() {
        return request;
    }
    let path_and_query = match request.uri().query() {
        Some(query) => format!("{raw}?{query}"),
        None => raw.to_owned(),
    };
    let mut parts = request.uri().clone().into_parts();
    if let Ok(path_and_query) = path_and_query.parse() {
        parts.path_and_query = Some(path_and_query);
        if let Ok(uri) = http::Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    request
}

/// Tells Lambda why the function cannot start (the Runtime API's "Initialization error"), so
/// that the invoke fails at once with `message` (a setting's name, never its value), which
/// CloudWatch shows with the init report. `lambda_runtime` reports init errors only for its
/// SnapStart hooks, so a refusal before `run` is ours to send. An unreachable Runtime API is
/// noted on standard error; the exit code says the rest.
pub async fn report_init_error(runtime_api: &str, error_type: &str, message: &str) {
    let body = lambda_http::lambda_runtime::Diagnostic {
        error_type: error_type.to_owned(),
        error_message: message.to_owned(),
    };
    // The Runtime API is a local HTTP endpoint: no proxy, no redirect, a short wait.
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(2))
        .build();
    let sent = match client {
        Ok(client) => client
            .post(init_error_url(runtime_api))
            .header("Lambda-Runtime-Function-Error-Type", error_type)
            .json(&body)
            .send()
            .await
            .map_err(|error| error.to_string())
            .and_then(|answer| match answer.status().as_u16() {
                200..=299 => Ok(()),
                status => Err(format!("it answered {status}")),
            }),
        Err(error) => Err(error.to_string()),
    };
    if let Err(why) = sent {
        eprintln!("signalr-negotiate: the init error could not be reported to the Lambda Runtime API: {why}");
    }
}

/// Where an init error goes: under the Runtime API's address as Lambda sets it (`host:port`), or
/// as an emulator may set it, with a scheme and a path (`http://[::]:9000/.rt` for cargo lambda
/// watch), as lambda_runtime_api_client reads it.
fn init_error_url(runtime_api: &str) -> String {
    let base = runtime_api.trim_end_matches('/');
    let scheme = if base.contains("://") { "" } else { "http://" };
    format!("{scheme}{base}/2018-06-01/runtime/init/error")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_init_error_goes_under_the_runtime_api_as_lambda_or_an_emulator_names_it() {
        assert_eq!(
            init_error_url("127.0.0.1:9001"),
            "http://127.0.0.1:9001/2018-06-01/runtime/init/error"
        );
        assert_eq!(
            init_error_url("http://[::]:9000/.rt"),
            "http://[::]:9000/.rt/2018-06-01/runtime/init/error"
        );
        assert_eq!(
            init_error_url("http://127.0.0.1:9000/.rt/"),
            "http://127.0.0.1:9000/.rt/2018-06-01/runtime/init/error"
        );
    }
}
