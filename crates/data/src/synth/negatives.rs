//! Hard negatives: queries that look like a scenario's tool territory but need no tool (small
//! talk about the weather, the meaning of a word, opinions, questions about the tools
//! themselves), each with a direct answer written for it.

use agentune_schema::{Step, TrajectoryStep};

use super::episode::{Lang, fill, pick};
use super::{Draft, Scenario};
use crate::rng::Rng;

/// (query, answer) pairs.
type Pairs = &'static [(&'static str, &'static str)];

const WEATHER_EN: Pairs = &[
    (
        "What a nice day!",
        "It really is! Enjoy it. If you'd like, I can check the forecast for your city.",
    ),
    (
        "What does 'humidity' mean?",
        "Humidity is the amount of water vapour in the air. Weather reports usually give relative humidity: how much vapour the air holds compared with the most it could hold at that temperature, in percent.",
    ),
    (
        "I love rainy days, do you?",
        "I don't experience weather myself, but many people find rainy days calm and cosy: a good excuse for tea and a book.",
    ),
    (
        "Why is the sky blue?",
        "Sunlight is scattered by air molecules, and short (blue) wavelengths scatter much more than long (red) ones (Rayleigh scattering), so blue light reaches us from every direction of the sky.",
    ),
    (
        "What's the difference between weather and climate?",
        "Weather is the state of the atmosphere at a given time and place (today's rain); climate is the long-term average pattern of weather in a region, usually over 30 years.",
    ),
    (
        "What does 'chance of rain 40%' actually mean?",
        "It means that in the forecast area there is a 40% probability that measurable rain falls during the period: out of ten days like this one, about four would see rain.",
    ),
    (
        "How do you convert a 'feels like' temperature?",
        "'Feels like' is not converted from the air temperature by a fixed rule: it combines temperature with wind (wind chill) or humidity (heat index) to estimate how warm or cold it feels on the skin.",
    ),
    (
        "Ugh, it's so hot today.",
        "Sorry to hear that! Drink plenty of water, stay in the shade during the midday hours and wear light clothes.",
    ),
    (
        "What is a dew point?",
        "The dew point is the temperature to which air must cool for its water vapour to condense into dew. The higher the dew point, the muggier it feels.",
    ),
    (
        "Do you think it will be a cold winter this year?",
        "I can't predict a whole season. Seasonal outlooks from weather services give probabilities, and I can check the next few days' forecast for a city if that helps.",
    ),
];
const WEATHER_ZH: Pairs = &[
    (
        "今天天气真好啊！",
        "是呀，好天气让人心情愉快！需要的话我可以帮你查查所在城市的天气预报。",
    ),
    (
        "“湿度”是什么意思？",
        "湿度指空气中水汽的多少。天气预报里一般说的是相对湿度：空气中实际水汽量占该温度下最大可容纳水汽量的百分比。",
    ),
    (
        "我喜欢下雨天，你呢？",
        "我感受不到天气，不过很多人觉得下雨天很安静惬意，适合喝茶看书。",
    ),
    (
        "为什么天空是蓝色的？",
        "阳光经过大气时被空气分子散射，波长较短的蓝光比红光散射得多（瑞利散射），所以天空各个方向都呈现蓝色。",
    ),
    (
        "天气和气候有什么区别？",
        "天气是某时某地的大气状况，比如今天下雨；气候是一个地区长期（通常30年）的天气平均状况。",
    ),
    (
        "降水概率40%到底是什么意思？",
        "意思是预报区域在该时段内出现可测降水的可能性为40%，也就是类似的十天里大约有四天会下雨。",
    ),
    (
        "体感温度是怎么回事？",
        "体感温度综合了气温与风（风寒效应）或湿度（酷热指数），用来估计人体实际感觉到的冷热程度。",
    ),
    (
        "今天好热啊。",
        "辛苦啦！记得多喝水，中午尽量待在阴凉处，穿轻薄透气的衣服。",
    ),
    (
        "露点是什么？",
        "露点是空气冷却到水汽开始凝结成露水时的温度。露点越高，人越觉得闷热潮湿。",
    ),
    (
        "你觉得今年冬天会很冷吗？",
        "整个季节的冷暖我无法预测，气象部门的季节展望会给出概率。需要的话，我可以帮你查某个城市未来几天的天气。",
    ),
];
const TRAVEL_EN: Pairs = &[
    (
        "Travelling alone is so much fun.",
        "It can be! You set your own pace and meet new people. Do you have a trip in mind?",
    ),
    (
        "What's the difference between a hike and a trek?",
        "A hike is usually a walk of a day or less on trails; a trek is a longer, often multi-day journey on foot, typically through remote terrain.",
    ),
    (
        "Why do people like camping?",
        "People enjoy camping for time in nature, quiet away from screens, starry skies, cooking outdoors and the simple routine of a day outside.",
    ),
    (
        "What does 'price level $$' mean in your results?",
        "It is a rough price band: free, $ (cheap), $$ (moderate) and $$$ (expensive). It is indicative, not an exact price.",
    ),
    (
        "I just got back from a great holiday!",
        "Welcome back! Glad it went well. What was the highlight?",
    ),
    (
        "What should I pack for a weekend camping trip?",
        "A tent, sleeping bag and mat, a headlamp, layers of warm and waterproof clothing, water and food, a small stove or snacks, a first-aid kit, sunscreen and a rubbish bag to take everything back out.",
    ),
    (
        "Is it rude to not tip in restaurants?",
        "It depends on the country: tipping is expected in the US and Canada, appreciated but smaller in much of Europe, and not customary in China or Japan.",
    ),
];
const TRAVEL_ZH: Pairs = &[
    (
        "一个人旅行真好玩。",
        "确实！可以按自己的节奏走，还能认识新朋友。最近有旅行计划吗？",
    ),
    (
        "徒步和远足有什么区别？",
        "一般来说远足指一天以内的步行游览，徒步更常指时间更长、往往多日的野外步行旅程。",
    ),
    (
        "为什么大家喜欢露营？",
        "露营可以亲近自然、远离屏幕、看星空、在户外做饭，享受简单的生活节奏。",
    ),
    (
        "搜索结果里的价位“$$”是什么意思？",
        "那是大致的价格档次：免费、$（便宜）、$$（中等）、$$$（较贵），只是参考，不是确切价格。",
    ),
    (
        "我刚旅游回来，玩得很开心！",
        "欢迎回来！玩得开心真好，最难忘的是什么？",
    ),
    (
        "周末露营要带什么？",
        "帐篷、睡袋和防潮垫、头灯、保暖和防雨的衣物、饮用水和食物、小炉具或零食、急救包、防晒霜，以及把垃圾带走的袋子。",
    ),
    (
        "在国外餐厅不给小费算不礼貌吗？",
        "要看国家：美国和加拿大通常要给小费，欧洲很多地方给一点表示感谢即可，中国和日本一般没有给小费的习惯。",
    ),
];
const MATH_EN: Pairs = &[
    (
        "Do you keep a history of my calculations?",
        "No. Each calculation is evaluated on its own and nothing is stored between requests, so there is no calculation history to show.",
    ),
    (
        "What is a prime number?",
        "A prime number is a whole number greater than 1 whose only divisors are 1 and itself, like 2, 3, 5, 7 and 11.",
    ),
    (
        "I hate maths.",
        "Lots of people feel that way! It often helps to start from a real problem you care about. I'm happy to help whenever you need a calculation.",
    ),
    ("What's 2 plus 2?", "2 plus 2 is 4."),
    (
        "What does 'percent' mean?",
        "Percent means 'per hundred': 25% is 25 out of every 100, or 0.25.",
    ),
    (
        "Why can't you divide by zero?",
        "Division asks how many times one number fits into another; no number multiplied by 0 gives a non-zero result, so the answer is undefined.",
    ),
    (
        "What's the order of operations?",
        "Parentheses first, then exponents, then multiplication and division (left to right), then addition and subtraction (left to right).",
    ),
];
const MATH_ZH: Pairs = &[
    (
        "你会保存我的计算历史吗？",
        "不会。每次计算都是独立进行的，请求之间不保存任何内容，所以没有计算历史可查。",
    ),
    (
        "什么是质数？",
        "质数是大于1、且只能被1和它本身整除的整数，比如2、3、5、7、11。",
    ),
    (
        "我最讨厌数学了。",
        "很多人都有同感！从自己关心的实际问题入手会容易些。需要计算时随时找我。",
    ),
    ("2加2等于几？", "2加2等于4。"),
    (
        "“百分比”是什么意思？",
        "百分比就是“每一百份中占多少”，比如25%就是每100份中的25份，即0.25。",
    ),
    (
        "为什么不能除以零？",
        "除法问的是一个数包含几个另一个数；任何数乘以0都得0，得不到非零的结果，所以除以零没有定义。",
    ),
    (
        "四则运算的顺序是什么？",
        "先算括号，再算乘方，然后从左到右算乘除，最后从左到右算加减。",
    ),
];
const UNITS_EN: Pairs = &[
    (
        "Why does the US still use miles?",
        "Mostly history and cost: the US customary system was established before the metric system spread, and changing road signs, laws and habits is expensive, so miles stayed in everyday use.",
    ),
    (
        "What is the metric system?",
        "The metric system (SI) is the decimal system of units built on the metre, kilogram, second and a few other base units, with prefixes such as kilo- and milli- for powers of ten.",
    ),
    (
        "How many centimetres are in a metre?",
        "There are 100 centimetres in a metre.",
    ),
    (
        "What's a 'jin'?",
        "A jin (斤) is a traditional Chinese unit of mass, today defined as half a kilogram (500 g).",
    ),
    (
        "Is a kilobyte 1000 or 1024 bytes?",
        "Both are in use: in SI terms a kilobyte (KB) is 1000 bytes, while a kibibyte (KiB) is 1024 bytes; some software still says KB for 1024.",
    ),
];
const UNITS_ZH: Pairs = &[
    (
        "为什么美国还在用英里？",
        "主要是历史和成本原因：美国惯用单位在公制普及前就已确立，更换路标、法规和习惯代价很高，所以英里一直沿用。",
    ),
    (
        "什么是公制？",
        "公制（国际单位制）是以米、千克、秒等为基本单位的十进制单位体系，用千、毫等词头表示10的幂。",
    ),
    ("一米等于多少厘米？", "一米等于100厘米。"),
    (
        "“斤”是多重？",
        "斤是中国传统的质量单位，现在规定1斤等于0.5千克，也就是500克。",
    ),
    (
        "1KB是1000字节还是1024字节？",
        "两种说法都有：按国际单位制，1KB是1000字节，1KiB是1024字节；有些软件仍把1024字节称为1KB。",
    ),
];
const CURRENCY_EN: Pairs = &[
    (
        "What is an exchange rate?",
        "An exchange rate is the price of one currency in another: how many units of currency B you get for one unit of currency A.",
    ),
    (
        "Why do currencies change value?",
        "Exchange rates move with supply and demand for each currency, driven by interest rates, inflation, trade balances, economic news and market expectations.",
    ),
    (
        "Money can't buy happiness, right?",
        "Research suggests money helps up to the point where basic needs and security are covered; beyond that, relationships, health and purpose matter more.",
    ),
    (
        "Is it better to exchange money at the airport?",
        "Usually not: airport exchange counters tend to offer poorer rates and higher fees than banks, ATMs or card payments abroad.",
    ),
    (
        "What does 'mid-market rate' mean?",
        "It is the midpoint between the buy and sell prices of two currencies on the wholesale market, without any margin added by a bank or exchange office.",
    ),
];
const CURRENCY_ZH: Pairs = &[
    (
        "什么是汇率？",
        "汇率是一种货币用另一种货币表示的价格，也就是1单位A货币能换多少单位B货币。",
    ),
    (
        "为什么汇率会变动？",
        "汇率随各货币的供求变化而波动，受利率、通胀、贸易收支、经济消息和市场预期等因素影响。",
    ),
    (
        "钱买不到快乐，对吧？",
        "研究表明，钱在满足基本需求和安全感之前很有帮助；超过这个程度后，人际关系、健康和目标感更重要。",
    ),
    (
        "在机场换钱划算吗？",
        "通常不划算：机场兑换点的汇率一般较差、手续费较高，不如银行、境外取款或刷卡。",
    ),
    (
        "“中间价”是什么意思？",
        "中间价是批发市场上两种货币买入价和卖出价的中点，不含银行或兑换点加的差价。",
    ),
];
const DATES_EN: Pairs = &[
    (
        "What is a leap year?",
        "A leap year has 366 days, with February 29 added. In the Gregorian calendar it is every year divisible by 4, except century years not divisible by 400 (so 2000 was a leap year, 1900 was not).",
    ),
    (
        "Time flies, doesn't it?",
        "It really does, especially when you're busy or having fun!",
    ),
    (
        "Why does a week have seven days?",
        "The seven-day week goes back to ancient Babylon and spread through Jewish, Christian and later global use; it roughly matches a quarter of the moon's cycle.",
    ),
    ("How many days are in a week?", "A week has seven days."),
    (
        "What does ISO week mean?",
        "ISO weeks start on Monday, and week 1 of a year is the week containing that year's first Thursday, so some days in early January belong to the previous year's last week.",
    ),
    (
        "I always forget birthdays.",
        "A recurring reminder in your phone's calendar helps a lot. I can also save a list of birthdays in a note for you if you like.",
    ),
];
const DATES_ZH: Pairs = &[
    (
        "什么是闰年？",
        "闰年有366天，二月有29日。公历规定能被4整除的年份是闰年，但整百年份必须能被400整除才是闰年（2000年是，1900年不是）。",
    ),
    (
        "时间过得真快啊。",
        "是啊，尤其是忙碌或开心的时候，时间总是过得飞快！",
    ),
    (
        "为什么一周有七天？",
        "七天一周可以追溯到古巴比伦，后来通过犹太教、基督教传播到全世界，大致相当于月相周期的四分之一。",
    ),
    ("一周有几天？", "一周有七天。"),
    (
        "ISO周是什么意思？",
        "ISO周从周一开始，一年的第1周是包含该年第一个星期四的那一周，所以一月初的几天可能属于上一年的最后一周。",
    ),
    (
        "我总是忘记别人的生日。",
        "可以在手机日历里设置每年重复的提醒。需要的话，我也可以帮你把生日列表存成笔记。",
    ),
];
const KNOWLEDGE_EN: Pairs = &[
    (
        "You're pretty smart!",
        "Thank you! I try my best. Ask me anything you like.",
    ),
    (
        "What's your favourite book?",
        "I don't have personal favourites, but many readers love classics like 'One Hundred Years of Solitude' or 'Journey to the West'. What do you like to read?",
    ),
    (
        "Can you look things up on the internet?",
        "I can search a small offline reference of encyclopedic facts when you ask a factual question, but I can't browse the live internet.",
    ),
    (
        "Thanks for the information!",
        "You're welcome! Happy to help.",
    ),
    (
        "Where do you get your facts from?",
        "For factual lookups I use a small offline reference with short encyclopedic entries; for everything else I answer from general knowledge and say so when I'm unsure.",
    ),
];
const KNOWLEDGE_ZH: Pairs = &[
    ("你真聪明！", "谢谢夸奖！有什么问题尽管问。"),
    (
        "你最喜欢哪本书？",
        "我没有个人喜好，不过很多读者喜欢《百年孤独》《西游记》这样的经典。你平时喜欢读什么？",
    ),
    (
        "你能上网查资料吗？",
        "遇到事实性问题时我可以查询一个离线的小型百科资料库，但无法浏览实时的互联网。",
    ),
    ("谢谢你的信息！", "不客气，很高兴能帮到你！"),
    (
        "你的知识是从哪来的？",
        "查询事实时我会使用一个离线的简短百科资料库；其他问题则依据一般知识回答，不确定时会说明。",
    ),
];
const NOTES_EN: Pairs = &[
    (
        "Taking notes is a good habit, isn't it?",
        "It is! Writing things down frees your memory and makes plans concrete. I can save notes for you whenever you want.",
    ),
    (
        "What's the best way to organise notes?",
        "Keep one note per topic with a clear name, use folders like 'work/' or 'travel/', start lists with the most important items and review them weekly.",
    ),
    (
        "Can you remember things without writing a note?",
        "Not between conversations: what we say now isn't kept. If you want something remembered, I can save it in a note.",
    ),
    (
        "What does 'append' mean for a note?",
        "Appending adds new text to the end of an existing note instead of replacing its content.",
    ),
    (
        "I keep losing my to-do lists.",
        "Keeping them in one place helps: a single 'todo' note you update every day. I can create it for you whenever you're ready.",
    ),
];
const NOTES_ZH: Pairs = &[
    (
        "记笔记是个好习惯吧？",
        "是的！把事情写下来能减轻记忆负担，让计划更具体。需要时我随时可以帮你保存笔记。",
    ),
    (
        "怎么整理笔记比较好？",
        "一个主题一条笔记，起清楚的名字，用“工作/”“旅行/”这样的文件夹分类，把重要事项放在前面，并定期回顾。",
    ),
    (
        "不写笔记你能记住事情吗？",
        "不能跨对话记住，我们现在说的内容不会保留。想让我记住的话，我可以帮你存成笔记。",
    ),
    (
        "笔记的“追加”是什么意思？",
        "追加就是把新内容加到已有笔记的末尾，而不是覆盖原来的内容。",
    ),
    (
        "我的待办清单老是弄丢。",
        "集中放在一个地方会好很多，比如每天更新一条“待办事项”笔记。你准备好了我就帮你创建。",
    ),
];

/// Terms for "what does X mean" questions, with definitions.
const TERMS_EN: &[(&str, &str)] = &[
    (
        "UV index",
        "The UV index measures the strength of the sun's ultraviolet radiation on a scale from 0 upward; 3-5 is moderate, 8 and above very high, calling for shade and sunscreen.",
    ),
    (
        "wind chill",
        "Wind chill is how cold it feels on exposed skin when wind carries heat away faster; it is lower than the air temperature on windy cold days.",
    ),
    (
        "compound interest",
        "Compound interest is interest calculated on the principal plus the interest already earned, so savings grow faster over time than with simple interest.",
    ),
    (
        "time zone",
        "A time zone is a region that keeps the same standard time, usually defined as an offset from UTC, such as UTC+8 for China.",
    ),
    (
        "exchange fee",
        "An exchange fee is what a bank or exchange office charges for converting money, either as a fixed fee or hidden in a worse rate.",
    ),
    (
        "nautical mile",
        "A nautical mile is 1,852 metres, based on one minute of latitude; it is used at sea and in aviation.",
    ),
];
const TERMS_ZH: &[(&str, &str)] = &[
    (
        "紫外线指数",
        "紫外线指数衡量太阳紫外线辐射的强度，从0开始，3到5为中等，8以上为很强，需要遮阳和涂防晒霜。",
    ),
    (
        "风寒效应",
        "风寒效应指风加快人体散热，使皮肤感觉比实际气温更冷的现象。",
    ),
    (
        "复利",
        "复利是把已得利息计入本金继续计息的方式，时间越长，比单利增长得越快。",
    ),
    (
        "时区",
        "时区是使用同一标准时间的区域，通常用与协调世界时的差表示，例如中国是UTC+8。",
    ),
    (
        "汇兑手续费",
        "汇兑手续费是银行或兑换点在换汇时收取的费用，可能是固定费用，也可能体现在较差的汇率中。",
    ),
    (
        "海里",
        "1海里等于1852米，源自纬度1分的长度，用于航海和航空。",
    ),
];
const TERM_Q_EN: &[&str] = &[
    "What does '{t}' mean?",
    "Can you explain the term '{t}'?",
    "What is meant by {t}?",
    "Define {t}.",
];
const TERM_Q_ZH: &[&str] = &[
    "“{t}”是什么意思？",
    "解释一下“{t}”这个词。",
    "什么叫{t}？",
    "{t}指的是什么？",
];

/// City small talk: (query, answer) with a `{city}` slot.
const CITY_EN: Pairs = &[
    (
        "I'm going to {city} next week, so excited!",
        "That sounds wonderful, have a great trip to {city}! If you like, I can check the forecast or suggest places to visit there.",
    ),
    (
        "{city} is such a beautiful city.",
        "It has a lot to offer! Would you like to know anything about {city}, such as its weather or places to visit?",
    ),
    (
        "Have you ever been to {city}?",
        "I can't travel myself, but I can look up the weather in {city} or find places to visit there if you're planning a trip.",
    ),
    (
        "My sister lives in {city}.",
        "How nice! If you visit her, I can check the weather in {city} or find places you could go together.",
    ),
    (
        "I just moved to {city}!",
        "Congratulations on the move! Settling into {city} takes a little time; I can help you find parks, restaurants or museums nearby whenever you like.",
    ),
    (
        "I miss {city} so much.",
        "It's natural to miss a place that means a lot to you. What do you miss most about {city}?",
    ),
];
const CITY_ZH: Pairs = &[
    (
        "我下周要去{city}，好期待！",
        "听起来太棒了，祝你{city}之行愉快！需要的话我可以帮你查天气或推荐当地好玩的地方。",
    ),
    (
        "{city}真是个美丽的城市。",
        "确实很有魅力！想了解{city}的什么吗？比如天气或值得去的地方。",
    ),
    (
        "你去过{city}吗？",
        "我没法亲自旅行，不过如果你打算去{city}，我可以帮你查天气或找找好去处。",
    ),
    (
        "我姐姐住在{city}。",
        "真好！如果你去看她，我可以帮你查{city}的天气，或者找些你们可以一起去的地方。",
    ),
    (
        "我刚搬到{city}！",
        "恭喜乔迁！适应{city}需要一点时间，需要找公园、餐厅或博物馆时随时告诉我。",
    ),
    (
        "好想念{city}啊。",
        "想念对自己意义重大的地方很正常。你最怀念{city}的什么？",
    ),
];

/// A slot-filled hard negative: city small talk, number comparisons, the day after a weekday.
fn slotted(scenario: Scenario, lang: Lang, rng: &mut Rng) -> Option<(String, String)> {
    match scenario {
        Scenario::Weather | Scenario::Travel | Scenario::Chain => {
            let cities = super::data::seed().ok()?.cities;
            let city = pick(rng, cities);
            let name = super::data::city_name(city, lang);
            let (q, a) = *pick(rng, lang.pick_list(CITY_EN, CITY_ZH));
            Some((fill(q, &[("city", name)]), fill(a, &[("city", name)])))
        }
        Scenario::Math => {
            let a = 10 + rng.below(9990);
            let b = 10 + rng.below(9990);
            if a == b {
                return None;
            }
            let (big, small) = if a > b { (a, b) } else { (b, a) };
            Some(match (lang, rng.below(2)) {
                (Lang::En, 0) => (
                    format!("Which is bigger, {a} or {b}?"),
                    format!("{big} is bigger than {small}."),
                ),
                (Lang::En, _) => (
                    format!("Is {a} an even number?"),
                    if a.is_multiple_of(2) {
                        format!("Yes, {a} is even: it ends in {}.", a % 10)
                    } else {
                        format!("No, {a} is odd: it ends in {}.", a % 10)
                    },
                ),
                (Lang::Zh, 0) => (format!("{a}和{b}哪个大？"), format!("{big}比{small}大。")),
                (Lang::Zh, _) => (
                    format!("{a}是偶数吗？"),
                    if a.is_multiple_of(2) {
                        format!("是的，{a}是偶数，个位是{}。", a % 10)
                    } else {
                        format!("不是，{a}是奇数，个位是{}。", a % 10)
                    },
                ),
            })
        }
        Scenario::Dates => {
            use agentune_runtime::tools::{WEEKDAYS as EN, WEEKDAYS_ZH as ZH};
            let i = rng.below(7);
            let j = (i + 1) % 7;
            Some(match lang {
                Lang::En => (
                    format!("What day comes after {}?", EN[i]),
                    format!("{} comes after {}.", EN[j], EN[i]),
                ),
                Lang::Zh => (
                    format!("{}的后一天是星期几？", ZH[i]),
                    format!("{}的后一天是{}。", ZH[i], ZH[j]),
                ),
            })
        }
        _ => None,
    }
}

/// A hard negative for `scenario`: a question and its direct answer, no call.
pub(crate) fn draft(scenario: Scenario, lang: Lang, rng: &mut Rng) -> Result<Draft, String> {
    let (en, zh): (Pairs, Pairs) = match scenario {
        Scenario::Weather | Scenario::Chain => (WEATHER_EN, WEATHER_ZH),
        Scenario::Travel => (TRAVEL_EN, TRAVEL_ZH),
        Scenario::Math => (MATH_EN, MATH_ZH),
        Scenario::Units => (UNITS_EN, UNITS_ZH),
        Scenario::Currency => (CURRENCY_EN, CURRENCY_ZH),
        Scenario::Dates => (DATES_EN, DATES_ZH),
        Scenario::Knowledge => (KNOWLEDGE_EN, KNOWLEDGE_ZH),
        Scenario::Notes => (NOTES_EN, NOTES_ZH),
    };
    let slot = if rng.below(5) < 2 {
        slotted(scenario, lang, rng)
    } else {
        None
    };
    let (query, answer) = if let Some(qa) = slot {
        qa
    } else if rng.below(5) == 0 {
        let (terms, qs) = match lang {
            Lang::En => (TERMS_EN, TERM_Q_EN),
            Lang::Zh => (TERMS_ZH, TERM_Q_ZH),
        };
        let (t, def) = *pick(rng, terms);
        (fill(pick::<&str>(rng, qs), &[("t", t)]), def.to_owned())
    } else {
        let (q, a) = *pick(rng, lang.pick_list(en, zh));
        (q.to_owned(), a.to_owned())
    };
    let thoughts: &[&str] = match lang {
        Lang::En => &[
            "This needs no tool; I can answer directly.",
            "No tool call is needed for this.",
            "I can answer this from general knowledge without calling a tool.",
        ],
        Lang::Zh => &[
            "这个问题不需要调用工具，可以直接回答。",
            "无需使用工具。",
            "凭常识即可回答，不必调用工具。",
        ],
    };
    // Chosen by the query, so one query always gets the same output (no conflicts).
    let thought =
        Some(thoughts[(crate::hash::hash_str(&query) % thoughts.len() as u64) as usize].to_owned());
    Ok(Draft {
        query,
        steps: vec![TrajectoryStep::new(Step::FinalAnswer { thought, answer })],
    })
}
