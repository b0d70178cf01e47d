//! The variables the platforms set (the Functions host, App Service, Lambda), declared as every
//! setting is (see the parent module); listed in its `TABLE`.

use super::DefaultValue::None as Unset;
use super::Setting;
use crate::settings::setting::setting;

pub const FUNCTIONS_PORT: Setting = setting(
    "FUNCTIONS_CUSTOMHANDLER_PORT",
    Unset,
    "set by the Functions host: serve on 127.0.0.1 at this port",
);
pub const WEBSITE_INSTANCE_ID: Setting = setting(
    "WEBSITE_INSTANCE_ID",
    Unset,
    "set by App Service: with FUNCTIONS_CUSTOMHANDLER_PORT, a deployed Function App (development-only settings are \
    refused)",
);
pub const LAMBDA_RUNTIME_API: Setting = setting(
    "AWS_LAMBDA_RUNTIME_API",
    Unset,
    "set by Lambda: serve the Lambda Runtime API",
);
// lambda_runtime 1.x reads these at start (`Config::from_env`) and panics when one is missing:
// Lambda sets them, an emulator must too. Checked first on Lambda, under these exact names.
pub const LAMBDA_FUNCTION_NAME: Setting = setting(
    "AWS_LAMBDA_FUNCTION_NAME",
    Unset,
    "set by Lambda: the function's name; required by the Lambda runtime, checked at start on Lambda",
);
pub const LAMBDA_FUNCTION_VERSION: Setting = setting(
    "AWS_LAMBDA_FUNCTION_VERSION",
    Unset,
    "set by Lambda: the function's version; required by the Lambda runtime, checked at start on Lambda",
);
pub const LAMBDA_FUNCTION_MEMORY_SIZE: Setting = setting(
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    Unset,
    "set by Lambda: the function's memory in MB, a whole number; required by the Lambda runtime, checked at start \
    on Lambda",
);
pub const IGNORE_STAGE_IN_PATH: Setting = setting(
    "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH",
    Unset,
    "read by lambda_http when set under this exact name, to any value: the API Gateway stage is left out of the \
    request's URL (routes follow the event's own path either way)",
);
