#!/bin/sh
# Writes the hooks.json of adnanh/webhook to stdout: GitHub's HMAC-SHA256 signature, a merged
# pull request into develop, and COMMAND run with the merge commit, clone URL and REGISTRY.
# usage: hooks.sh SECRET COMMAND REGISTRY
set -eu
jq -n --arg secret "$1" --arg cmd "$2" --arg registry "$3" '[{
  id: "ci",
  "execute-command": $cmd,
  "command-working-directory": "/tmp",
  "response-message": "queued",
  "pass-arguments-to-command": [
    {source: "payload", name: "pull_request.merge_commit_sha"},
    {source: "payload", name: "repository.clone_url"},
    {source: "string", name: $registry}
  ],
  "trigger-rule": {and: [
    {match: {type: "payload-hmac-sha256", secret: $secret,
             parameter: {source: "header", name: "X-Hub-Signature-256"}}},
    {match: {type: "value", value: "pull_request",
             parameter: {source: "header", name: "X-GitHub-Event"}}},
    {match: {type: "value", value: "closed", parameter: {source: "payload", name: "action"}}},
    {match: {type: "value", value: "true",
             parameter: {source: "payload", name: "pull_request.merged"}}},
    {match: {type: "value", value: "develop",
             parameter: {source: "payload", name: "pull_request.base.ref"}}}
  ]}
}]'
