//! Reading a reply while it streams in: text that is safe to show as it arrives (never a
//! partial tag), each tool call as soon as it is complete (so a server can stop generating or
//! start the tool early), and the full step at the end.

use agentune_schema::{Step, StepSyntax, ToolCall};

use super::labeled::{Label, action_name, lenient_object};
use super::text::match_label_loose;
use super::{ParseError, ParseMode, Template, json, structured, tagged};

/// Something a [`StreamParser`] can tell before the reply is complete.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// Text to show: for tagged and native replies the free text outside call blocks, for
    /// labeled replies the final answer as it is written.
    Text(String),
    /// A call whose arguments are complete.
    Call(ToolCall),
}

/// An incremental reader of one streamed reply under a template. Each push rescans the reply
/// received so far (replies are short), so events never depend on where chunks were cut.
#[derive(Debug, Clone)]
pub struct StreamParser {
    template: Template,
    buf: String,
    /// Bytes of `buf` already shown (tagged, native) or scanned (labeled answer text).
    shown: usize,
    /// Tagged: where the block being read starts (after its opening tag).
    in_block: Option<usize>,
    /// Calls already reported.
    calls: usize,
    /// Everything after this offset is ignored (an invented observation, a finished call in a
    /// non-parallel template).
    done: bool,
}

impl StreamParser {
    /// A reader for one reply under `template`.
    pub fn new(template: &Template) -> Self {
        Self {
            template: template.clone(),
            buf: String::new(),
            shown: 0,
            in_block: None,
            calls: 0,
            done: false,
        }
    }

    /// The reply received so far.
    pub fn text(&self) -> &str {
        &self.buf
    }

    /// Whether the reply can stop here: a template with one call per reply has its call, or
    /// the model started writing an observation. A server may stop generating.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Takes the next piece of the reply and returns what can be told now.
    pub fn push(&mut self, chunk: &str) -> Vec<StreamEvent> {
        self.buf.push_str(chunk);
        if self.done {
            return Vec::new();
        }
        match &self.template.spec.syntax {
            StepSyntax::Tagged(s) => {
                let s = s.clone();
                self.push_tagged(&s)
            }
            StepSyntax::Labeled(_) => self.push_labeled(),
            StepSyntax::Json(j) => {
                let j = j.clone();
                self.push_json(&j)
            }
            StepSyntax::Native(_) => {
                let text = self.buf[self.shown..].to_owned();
                self.shown = self.buf.len();
                if text.is_empty() {
                    Vec::new()
                } else {
                    vec![StreamEvent::Text(text)]
                }
            }
        }
    }

    /// The whole reply as a step.
    pub fn finish(self, mode: ParseMode) -> Result<Step, ParseError> {
        self.template.parse(&self.buf, mode)
    }

    fn push_tagged(&mut self, s: &agentune_schema::TaggedSyntax) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        loop {
            match self.in_block {
                None => {
                    if let Some(k) = self.buf[self.shown..].find(&s.open) {
                        let at = self.shown + k;
                        if at > self.shown {
                            out.push(StreamEvent::Text(self.buf[self.shown..at].to_owned()));
                        }
                        self.in_block = Some(at + s.open.len());
                        self.shown = at + s.open.len();
                        continue;
                    }
                    // Hold back a tail that may be the start of the opening tag.
                    let rest = &self.buf[self.shown..];
                    let mut keep = 0;
                    for (i, _) in rest.char_indices() {
                        if s.open.starts_with(&rest[i..]) {
                            keep = rest.len() - i;
                            break;
                        }
                    }
                    let upto = self.buf.len() - keep;
                    if upto > self.shown {
                        out.push(StreamEvent::Text(self.buf[self.shown..upto].to_owned()));
                        self.shown = upto;
                    }
                    return out;
                }
                Some(start) => {
                    let Some(k) = self.buf[start..].find(&s.close) else {
                        return out;
                    };
                    let end = start + k;
                    let block = format!("{}{}{}", s.open, &self.buf[start..end], s.close);
                    if let Ok(Step::ToolCalls { calls, .. }) =
                        tagged::parse(s, &block, ParseMode::Lenient)
                    {
                        self.calls += calls.len();
                        out.extend(calls.into_iter().map(StreamEvent::Call));
                    }
                    self.shown = end + s.close.len();
                    self.in_block = None;
                    if !s.parallel {
                        self.done = true;
                        return out;
                    }
                }
            }
        }
    }

    fn push_labeled(&mut self) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        let StepSyntax::Labeled(l) = &self.template.spec.syntax else {
            return out;
        };
        // Label lines seen so far (complete lines only, plus the last one when it already
        // holds its colon).
        let mut segs: Vec<(Label, usize, usize)> = Vec::new();
        let mut line_start = 0;
        while line_start < self.buf.len() {
            let line_end = self.buf[line_start..]
                .find('\n')
                .map_or(self.buf.len(), |k| line_start + k);
            let line = &self.buf[line_start..line_end];
            for (label, name) in &self.template.labels {
                if let Some(n) = match_label_loose(line, name) {
                    segs.push((*label, line_start, line_start + n));
                    break;
                }
            }
            line_start = line_end + 1;
        }
        if let Some(k) = segs.iter().position(|s| s.0 == Label::Observation) {
            self.done = true;
            segs.truncate(k);
        }
        // Complete calls: an Action Input whose JSON object has closed.
        let mut found = 0;
        for (i, seg) in segs.iter().enumerate() {
            if seg.0 != Label::ActionInput || i == 0 || segs[i - 1].0 != Label::Action {
                continue;
            }
            let end = segs.get(i + 1).map_or(self.buf.len(), |n| n.1);
            let region = &self.buf[..end];
            let Some(open) = region[seg.2..].find('{') else {
                continue;
            };
            if json::read_value(region, seg.2 + open, true).is_err() {
                continue;
            }
            found += 1;
            if found <= self.calls {
                continue;
            }
            let name_seg = segs[i - 1];
            let name = action_name(&self.buf, name_seg.2, seg.1, false).ok();
            let is_finish = |n: &str| {
                l.finish
                    .as_ref()
                    .is_some_and(|f| n.eq_ignore_ascii_case(&f.name))
            };
            if let (Some(name), Ok(args)) = (name, lenient_object(&self.buf, seg.2, end))
                && !is_finish(&name)
            {
                out.push(StreamEvent::Call(ToolCall::new(name, args)));
            }
            self.calls = found;
            if !l.parallel {
                self.done = true;
            }
        }
        // The final answer's text, as it comes.
        if let Some(&(_, _, content)) = segs.iter().find(|s| s.0 == Label::FinalAnswer) {
            let from = self.shown.max(content);
            let text = &self.buf[from..];
            if !text.is_empty() {
                out.push(StreamEvent::Text(text.to_owned()));
                self.shown = self.buf.len();
            }
        }
        out
    }

    fn push_json(&mut self, j: &agentune_schema::JsonSyntax) -> Vec<StreamEvent> {
        let Some(open) = self.buf.find('{') else {
            return Vec::new();
        };
        if json::read_value(&self.buf, open, true).is_err() {
            return Vec::new();
        }
        self.done = true;
        match structured::parse_json(j, &self.buf, ParseMode::Lenient) {
            Ok(Step::ToolCalls { calls, .. }) => {
                self.calls = calls.len();
                calls.into_iter().map(StreamEvent::Call).collect()
            }
            Ok(Step::FinalAnswer { answer, .. }) => vec![StreamEvent::Text(answer)],
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn collect(p: &mut StreamParser, chunk: &str) -> Vec<StreamEvent> {
        p.push(chunk)
    }

    #[test]
    fn partial_tags_are_held_back_and_calls_come_when_closed() {
        let t = Template::builtin("hermes").unwrap();
        let mut p = t.stream();
        assert_eq!(
            collect(&mut p, "Let me check.\n<tool"),
            [StreamEvent::Text("Let me check.\n".into())]
        );
        assert!(collect(&mut p, "_call>\n{\"name\": \"get_weather\", ").is_empty());
        let events = collect(&mut p, "\"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>");
        let args = json!({"city": "Oslo"}).as_object().cloned().unwrap();
        assert_eq!(
            events,
            [StreamEvent::Call(ToolCall::new("get_weather", args))]
        );
        assert!(!p.is_done(), "hermes allows more calls");
        assert_eq!(p.finish(ParseMode::Strict).unwrap().calls().len(), 1);
    }

    #[test]
    fn labeled_calls_end_when_their_json_closes() {
        let t = Template::builtin("react").unwrap();
        let mut p = t.stream();
        assert!(
            collect(
                &mut p,
                "Thought: go\nAction: get_weather\nAction Input: {\"city\": "
            )
            .is_empty()
        );
        let events = collect(&mut p, "\"Rome\"}");
        assert_eq!(events.len(), 1);
        assert!(
            p.is_done(),
            "react has one call per reply: generation may stop"
        );
        assert!(collect(&mut p, "\nObservation: made up").is_empty());
        assert_eq!(
            p.finish(ParseMode::Lenient).unwrap().calls()[0].name,
            "get_weather"
        );
    }

    #[test]
    fn final_answers_stream_as_text() {
        let t = Template::builtin("react_zh").unwrap();
        let mut p = t.stream();
        assert!(collect(&mut p, "思考：好了\n最终").is_empty());
        assert_eq!(
            collect(&mut p, "答案：明天"),
            [StreamEvent::Text("明天".into())]
        );
        assert_eq!(
            collect(&mut p, "有雨。"),
            [StreamEvent::Text("有雨。".into())]
        );
        assert!(!p.is_done());
    }
}
